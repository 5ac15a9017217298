// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";

/// @title PermitToken
/// @notice An OpenZeppelin 5 ERC-20 with EIP-2612 `permit` and `multicall(bytes[])`, for Clawd402's decoding and
///         simulation tests (a batch of transfers in one call; permits submitted as calldata). Not for production use.
/// @dev 18 decimals; the whole initial supply goes to the deployer.
contract PermitToken is ERC20, ERC20Permit, Multicall {
    /// @param name_ token name, also the EIP-712 domain name
    /// @param symbol_ token symbol
    /// @param initialSupply supply in base units, minted to msg.sender
    constructor(string memory name_, string memory symbol_, uint256 initialSupply) ERC20(name_, symbol_) ERC20Permit(name_) {
        _mint(msg.sender, initialSupply);
    }
}
