import { createPublicKey, type KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { CHECKPOINT_TYPE, isCheckpointClaims, type CheckpointClaims } from '@clawd402/protocol';

/** Why a checkpoint does not verify. */
export type CheckpointProblem = 'malformed' | 'bad_signature';

/**
 * Verify an audit checkpoint (compact JWS from the signer's `sign_checkpoint`) against the signer's checkpoint public
 * key (SPKI PEM or KeyObject). Returns its claims, or the problem: `malformed` (not a checkpoint JWS of the expected
 * header and claims) or `bad_signature` (not signed by that key).
 */
export async function verifyCheckpoint(
  jws: string,
  publicKey: string | KeyObject,
): Promise<{ claims: CheckpointClaims } | { problem: CheckpointProblem }> {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return { problem: 'malformed' };
  }
  if (header.alg !== 'EdDSA' || header.typ !== CHECKPOINT_TYPE) return { problem: 'malformed' };
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, key, { algorithms: ['EdDSA'] }));
  } catch {
    return { problem: 'bad_signature' };
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return { problem: 'malformed' };
  }
  return isCheckpointClaims(claims) ? { claims } : { problem: 'malformed' };
}
