/**
 * @clawd402/signer — the isolated process that alone holds signing keys. It signs only what a valid, unused gateway
 * ticket binds, for its allowed chains, and never talks to the network.
 */
export { startSigner, DEFAULT_CHAINS, type StartSignerOptions, type RunningSigner } from './start-signer.ts';
export { createKeystoreFile, loadKeystoreFile, readPasswordFile, SignerConfigError, type CreateKeystoreOptions } from './keystore.ts';
export { SigningKey, type SignerKeyInfo } from './signing-key.ts';
export { parseGatewayPublicKeys, loadGatewayPublicKeys } from './gateway-keys.ts';
export { TicketVerifier, parseClaims, MAX_TICKET_CHARS, type TicketVerifierOptions, type VerifiedTicket } from './ticket-verifier.ts';
export { TicketJournal, JOURNAL_GRACE_SECONDS, type TicketJournalOptions } from './ticket-journal.ts';
export { createStderrLogger, createSilentLogger } from './logger.ts';
