import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import * as age from 'age-encryption';
import { CliError } from '../cli-error.ts';

const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** Check an age X25519 recipient (`age1…`, public): a typo must not produce a backup nobody can open. */
export function parseRecipient(text: string): string {
  const value = text.trim();
  if (!RECIPIENT.test(value)) throw new CliError('backup_recipient_invalid');
  return value;
}

/**
 * Read an age identity file: lines of `AGE-SECRET-KEY-1…`, `#` comments and blank lines (what `age-keygen` and
 * `clawd402 backup keygen` write). The key itself never appears in an error.
 */
export function readIdentityFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new CliError(
      'file_unreadable',
      `the identity file cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const keys = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (keys.length === 0) throw new CliError('backup_identity_invalid');
  return keys;
}

export interface FileDigest {
  bytes: number;
  sha256: string;
}

/** sha256 and size of a file, streamed. */
export async function digestFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Encrypt `source` to `target` for `recipients` (streamed; the plaintext is never held whole in memory). */
export async function encryptFile(source: string, target: string, recipients: readonly string[]): Promise<FileDigest> {
  const encrypter = new age.Encrypter();
  for (const r of recipients) encrypter.addRecipient(r);
  const input = Readable.toWeb(createReadStream(source)) as unknown as ReadableStream<Uint8Array>;
  const encrypted = await encrypter.encrypt(input);
  await pipeline(
    Readable.fromWeb(encrypted as unknown as NodeWebReadableStream<Uint8Array>),
    createWriteStream(target, { mode: 0o600 }),
  );
  return digestFile(target);
}

/**
 * Decrypt `source` to `target` with `identities`. Every chunk of an age file is authenticated, so a changed byte
 * fails here (`backup_content_invalid`); an identity that is not a recipient fails before anything is written
 * (`backup_decrypt_failed`). A partly written target is the caller's to discard.
 */
export async function decryptFile(source: string, target: string, identities: readonly string[]): Promise<void> {
  const decrypter = new age.Decrypter();
  for (const id of identities) decrypter.addIdentity(id);
  const input = Readable.toWeb(createReadStream(source)) as unknown as ReadableStream<Uint8Array>;
  let plain: ReadableStream<Uint8Array>;
  try {
    plain = await decrypter.decrypt(input);
  } catch (cause) {
    const message = (cause as Error).message ?? '';
    if (/no identity matched/i.test(message)) throw new CliError('backup_decrypt_failed', undefined, { cause });
    throw new CliError('backup_content_invalid', 'a part is not a valid age file', { cause });
  }
  try {
    await pipeline(Readable.fromWeb(plain), createWriteStream(target, { mode: 0o600 }));
  } catch (cause) {
    throw new CliError('backup_content_invalid', 'a part fails authentication when decrypted (it was changed)', {
      cause,
    });
  }
}

/** A new X25519 identity and its recipient (for `backup keygen`, run where the private half is to be kept). */
export async function generateIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await age.generateX25519Identity();
  return { identity, recipient: await age.identityToRecipient(identity) };
}

export const discard = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });
