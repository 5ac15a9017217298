import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

/**
 * Agent API keys look like `c402_<keyId>_<secret>`: `keyId` (16 hex chars) is a non-secret lookup prefix stored in
 * clear; `secret` (32 random bytes, base64url) is stored only as an argon2id hash. A key is shown once, at creation.
 */
const KEY_PATTERN = /^c402_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface GeneratedApiKey {
  keyId: string;
  /** The full key to hand to the agent once. Never stored, never logged. */
  apiKey: string;
  secretHash: string;
}

export async function generateApiKey(): Promise<GeneratedApiKey> {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { keyId, apiKey: `c402_${keyId}_${secret}`, secretHash: await argon2.hash(secret, ARGON2_OPTIONS) };
}

export function parseApiKey(apiKey: string): { keyId: string; secret: string } | null {
  const match = KEY_PATTERN.exec(apiKey);
  return match ? { keyId: match[1]!, secret: match[2]! } : null;
}

// A hash of a random secret nobody knows: verifying an unknown key id against it costs what a real check costs, so
// response time does not reveal which key ids exist.
let dummyHash: Promise<string> | undefined;
function getDummyHash(): Promise<string> {
  dummyHash ??= argon2.hash(randomBytes(32).toString('base64url'), ARGON2_OPTIONS);
  return dummyHash;
}

/** Verify a secret against a stored hash; with no stored hash, burn the same time and return false. */
export async function verifySecret(storedHash: string | null, secret: string): Promise<boolean> {
  if (storedHash === null) {
    await argon2.verify(await getDummyHash(), secret).catch(() => false);
    return false;
  }
  try {
    return await argon2.verify(storedHash, secret);
  } catch {
    return false;
  }
}

export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}
