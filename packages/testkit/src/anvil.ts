/**
 * Dependency-light entry (Node built-ins only) for code that only needs to run anvil, such as the gateway's
 * embedded mode: `import { startAnvil } from '@clawd402/testkit/anvil'`.
 */
export { anvilBinaryPath } from './anvil-binary.ts';
export { ANVIL_ACCOUNTS, type AnvilAccount } from './anvil-accounts.ts';
export { type Anvil, type StartAnvilOptions, startAnvil } from './start-anvil.ts';
