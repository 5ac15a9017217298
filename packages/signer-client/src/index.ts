/**
 * @clawd402/signer-client — the gateway's side of the signer socket: a pipelining client and the ticket issuer.
 * It holds the gateway's ticket private key and never any signing key.
 */
export { SignerClient, type RequestOptions, type SignerClientOptions } from './signer-client.ts';
export type { UnavailableReason } from './signer-connection.ts';
export { TicketIssuer, type TicketIssuerOptions, type IssueTicketParams } from './ticket-issuer.ts';
export { verifyCheckpoint, type CheckpointProblem } from './audit-checkpoint.ts';
export { generateTicketKeyPair, loadTicketPrivateKey, type TicketKeyPair } from './ticket-keys.ts';
export type {
  CheckpointClaims,
  CheckpointResult,
  SignCheckpointParams,
  KeyListing,
  LatchState,
  ListKeysResult,
  SignMessageParams,
  SignOperation,
  SignTransactionParams,
  SignTransactionResult,
  SignTypedDataParams,
  SignatureResult,
  StatusResult,
  WireTransaction,
  WireTypedData,
} from '@clawd402/protocol';
