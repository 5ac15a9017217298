/**
 * @clawd402/signer — the isolated process that alone holds signing keys. It signs only what a valid, unused gateway
 * ticket binds, within its own per-key policy, and never talks to the network.
 */
export { startSigner, DEFAULT_CHAINS, type StartSignerOptions, type RunningSigner } from './start-signer.ts';
export {
  createKeystoreFile,
  loadKeystoreFile,
  readPasswordFile,
  SignerConfigError,
  type CreateKeystoreOptions,
} from './keystore.ts';
export { SigningKey } from './signing-key.ts';
export type { SignerKey, SignerKeyInfo, KeyBackendName } from './keys/signer-key.ts';
export { secp256k1Implementation } from './keys/secp256k1.ts';
export {
  LedgerDevice,
  LedgerKey,
  LEDGER_STATUS,
  DEFAULT_DEVICE_TIMEOUT_MS,
  deviceError,
  ledgerAddress,
  openNodeHidTransport,
  type LedgerTransport,
  type LedgerTransportFactory,
} from './keys/ledger-key.ts';
export { DEFAULT_HD_PATH_TEMPLATE, hdPath, deriveHdKeys } from './keys/hd-wallet.ts';
export {
  addLedgerKey,
  assignKey,
  generateKey,
  importKey,
  loadKeyDirectory,
  readKeyDirectory,
  rotateKey,
  type KeyDirectoryData,
  type KeyRecord,
  type WalletRecord,
} from './keys/key-directory.ts';
export {
  parseSignerPolicy,
  loadSignerPolicy,
  checkPolicy,
  policyFor,
  type SignerPolicy,
  type KeyPolicy,
} from './policy/signer-policy.ts';
export { parseGatewayPublicKeys, loadGatewayPublicKeys } from './gateway-keys.ts';
export {
  TicketVerifier,
  parseClaims,
  MAX_TICKET_CHARS,
  type TicketVerifierOptions,
  type VerifiedTicket,
  type SigningPayload,
} from './ticket-verifier.ts';
export { NonceGuard, NONCE_WINDOW, MAX_DIGESTS_PER_NONCE, type NonceClaim } from './nonce-guard.ts';
export {
  SignerJournal,
  JOURNAL_GRACE_SECONDS,
  DAY_MINUTES,
  type SignerJournalOptions,
  type Reservation,
  type UsageCounters,
} from './signer-journal.ts';
export { createStderrLogger, createSilentLogger } from './logger.ts';
