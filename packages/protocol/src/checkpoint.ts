/**
 * Audit checkpoints: the signer's Ed25519-signed statement that the gateway's hash-chained audit log had `count` rows
 * with head hash `head` when the signer signed (`at`, the signer's clock). The signing key is the signer's own
 * checkpoint key, which the gateway and the database never hold; the signer keeps every checkpoint it signs in an
 * append-only file of its own and refuses one that would shrink the chain or rewrite a signed head. So a log cut
 * short, or rewritten below a checkpoint, no longer matches a checkpoint the database writer cannot forge or remove.
 *
 * Wire form: a compact JWS, header `{alg: "EdDSA", typ: CHECKPOINT_TYPE, kid}` (`kid` = the key's SHA-256 JWK
 * thumbprint), payload {@link CheckpointClaims}.
 */
export const CHECKPOINT_TYPE = 'clawd402-audit-checkpoint+jws';

export interface CheckpointClaims {
  v: 1;
  /** Rows in the audit chain (its highest `seq`). */
  count: number;
  /** `hash` of row `count`: 64 lower-case hex characters. */
  head: string;
  /** When the signer signed it, ISO 8601 (the signer's clock, not the gateway's). */
  at: string;
}

/** `sign_checkpoint` params: the head the gateway read. */
export interface SignCheckpointParams {
  count: number;
  head: string;
}

/** Answer to `sign_checkpoint`, and to `get_checkpoint` (the latest; null before the first). */
export interface CheckpointResult {
  checkpoint: string | null;
  /** SPKI PEM of the signer's checkpoint public key. */
  publicKey: string;
}

export const CHECKPOINT_HEAD = /^[0-9a-f]{64}$/;

/** True if `value` is well-formed checkpoint claims (shape only; the signature is checked with jose). */
export function isCheckpointClaims(value: unknown): value is CheckpointClaims {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const c = value as Record<string, unknown>;
  return (
    Object.keys(c).sort().join(',') === 'at,count,head,v' &&
    c.v === 1 &&
    Number.isSafeInteger(c.count) &&
    (c.count as number) >= 1 &&
    typeof c.head === 'string' &&
    CHECKPOINT_HEAD.test(c.head) &&
    typeof c.at === 'string' &&
    !Number.isNaN(Date.parse(c.at))
  );
}
