// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken
/// @notice A plain OpenZeppelin 5 ERC-20 for Clawd402's integration tests and benchmark. Not for production use.
/// @dev Name, symbol and decimals are set once by the constructor; the whole initial supply goes to the deployer.
contract TestToken is ERC20 {
    uint8 private immutable _tokenDecimals;

    /// @param name_ token name, e.g. "Test USD"
    /// @param symbol_ token symbol, e.g. "TUSD"
    /// @param decimals_ number of decimals, e.g. 6
    /// @param initialSupply supply in base units (already scaled by 10 ** decimals_), minted to msg.sender
    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 initialSupply)
        ERC20(name_, symbol_)
    {
        _tokenDecimals = decimals_;
        _mint(msg.sender, initialSupply);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _tokenDecimals;
    }
}
