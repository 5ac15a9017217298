/**
 * @clawd402/testkit — real dev services for integration tests and the benchmark: anvil chains, throwaway Postgres
 * databases, the test Redis URL, and contracts compiled from source with solc.
 * Test-only: nothing in production code paths may import it, except `@clawd402/testkit/anvil` for embedded mode.
 */
export { anvilBinaryPath } from './anvil-binary.ts';
export { ANVIL_ACCOUNTS, type AnvilAccount } from './anvil-accounts.ts';
export { type Anvil, type StartAnvilOptions, startAnvil } from './start-anvil.ts';
export { type ChildGuard, guardChild } from './child-guard.ts';
export { anvilRpc } from './anvil-rpc.ts';
export {
  type ContractArtifact,
  artifactsDir,
  compileContracts,
  loadArtifact,
  loadOrCompileArtifact,
} from './artifacts.ts';
export { type DeployTestTokenParameters, deployTestToken } from './deploy-test-token.ts';
export { type DevWrite, devClients, writeAndConfirm } from './dev-clients.ts';
export {
  type DeployPriceFeedParameters,
  type PriceFeedRound,
  type UpdatePriceFeedParameters,
  deployPriceFeed,
  readPriceFeed,
  updatePriceFeed,
} from './deploy-price-feed.ts';
export {
  type AddLiquidityEthParameters,
  type DeployUniswapV2Parameters,
  type UniswapV2ContractName,
  type UniswapV2Deployment,
  addLiquidityEth,
  deployUniswapV2,
  predictUniswapV2Addresses,
  uniswapV2Artifact,
} from './deploy-uniswap-v2.ts';
export { type DeployPermitTokenParameters, deployPermitToken } from './deploy-permit-token.ts';
export { type DeployEip3009TokenParameters, deployEip3009Token } from './deploy-eip3009-token.ts';
export { type TestDatabase, createTestDatabase, testDatabaseAdminUrl } from './test-database.ts';
export { testRedisUrl } from './test-redis.ts';
export {
  EIP712_DOMAIN_TYPES,
  PERMIT_TYPES,
  TRANSFER_WITH_AUTHORIZATION_TYPES,
  eip712Fields,
  permitTypedData,
} from './eip712-types.ts';
export { type ScriptRun, runScript } from './run-script.ts';
export { type PrivatePostgres, startPrivatePostgres } from './private-postgres.ts';
export { prng } from './prng.ts';
