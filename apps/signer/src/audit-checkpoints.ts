import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fdatasync, mkdirSync, openSync, readFileSync, write, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign, calculateJwkThumbprint, compactVerify, exportJWK } from 'jose';
import {
  CHECKPOINT_HEAD,
  CHECKPOINT_TYPE,
  SignerError,
  isCheckpointClaims,
  type CheckpointClaims,
  type CheckpointResult,
  type SignCheckpointParams,
} from '@clawd402/protocol';
import { SignerConfigError } from './keystore.ts';

/** The checkpoint key (PKCS#8 PEM, 0600) and the append-only file of every checkpoint signed, one JWS per line. */
export const CHECKPOINT_KEY_FILE = 'checkpoint-ed25519.pem';
export const CHECKPOINT_LOG_FILE = 'checkpoints.jws';
/** The checkpoint public key (SPKI PEM), written beside the key for operators to pin (AUDIT_CHECKPOINT_PUBLIC_KEY_FILE). */
export const CHECKPOINT_PUBLIC_KEY_FILE = 'checkpoint-ed25519.pub.pem';

/**
 * The signer as notary of the gateway's audit log. It holds a dedicated Ed25519 checkpoint key (generated on first
 * start in the checkpoint directory, never used for anything else, never known to the gateway or the database) and
 * signs statements "the chain had `count` rows ending in `head`", stamped with its own clock.
 *
 * It cannot see the database, so it cannot know the head is true; what it guarantees is that checkpoints only move
 * forward: a `count` below the latest is `checkpoint_regressed`, the latest `count` with another head is
 * `checkpoint_conflict`, the latest again is answered with the same checkpoint. Every checkpoint is appended to
 * {@link CHECKPOINT_LOG_FILE} and fdatasync'ed before it is returned, so the latest one survives whatever happens to
 * Postgres: rows cut from the end of the log, or history rewritten below it, no longer match it.
 *
 * Memory: only the latest checkpoint. Disk: about 400 bytes per checkpoint (one a minute is ~200 MB a year; rotate by
 * moving the file aside while the signer is stopped — the latest line must stay).
 */
export class AuditCheckpoints {
  readonly publicKeyPem: string;
  readonly #key: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #kid: string;
  readonly #logPath: string;
  readonly #now: () => number;
  #fd: number | undefined;
  #latest: { claims: CheckpointClaims; jws: string } | null = null;
  #tail: Promise<unknown> = Promise.resolve();
  #broken = false;

  private constructor(dir: string, key: KeyObject, kid: string, now: () => number) {
    this.#key = key;
    this.#publicKey = createPublicKey(key);
    this.publicKeyPem = this.#publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.#kid = kid;
    this.#logPath = join(dir, CHECKPOINT_LOG_FILE);
    this.#now = now;
  }

  /** Open (creating 0700 / 0600 if missing) the checkpoint directory: load or generate the key, load the latest. */
  static async open(
    dir: string,
    options: { now?: () => number; onTornLine?: () => void } = {},
  ): Promise<AuditCheckpoints> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, CHECKPOINT_KEY_FILE);
    if (!existsSync(keyPath)) {
      const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
      writeFileSync(keyPath, pem, { mode: 0o600, flag: 'wx' });
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(keyPath, 'utf8'));
    } catch (cause) {
      throw new SignerConfigError(`checkpoint key ${keyPath} cannot be read`, { cause });
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new SignerConfigError(`checkpoint key ${keyPath} is not an Ed25519 private key`);
    const kid = await calculateJwkThumbprint(await exportJWK(createPublicKey(key)), 'sha256');
    const notary = new AuditCheckpoints(dir, key, kid, options.now ?? Date.now);
    writeFileSync(join(dir, CHECKPOINT_PUBLIC_KEY_FILE), notary.publicKeyPem, { mode: 0o644 });
    await notary.#load(options.onTornLine);
    notary.#fd = openSync(notary.#logPath, 'a', 0o600);
    return notary;
  }

  /** The latest checkpoint and the public key. */
  latest(): CheckpointResult {
    return { checkpoint: this.#latest?.jws ?? null, publicKey: this.publicKeyPem };
  }

  /**
   * Sign and record a checkpoint of `count` rows ending in `head`. Requests are handled one at a time, in order of
   * arrival; the answer is sent only once the line is on disk.
   */
  sign(params: SignCheckpointParams): Promise<CheckpointResult> {
    const run = this.#tail.then(() => this.#sign(params));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.#tail;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  async #sign({ count, head }: SignCheckpointParams): Promise<CheckpointResult> {
    if (this.#broken || this.#fd === undefined) throw new SignerError('signer_internal');
    const latest = this.#latest?.claims;
    if (latest !== undefined && count < latest.count) throw new SignerError('checkpoint_regressed');
    if (latest?.count === count) {
      if (head !== latest.head) throw new SignerError('checkpoint_conflict');
      return this.latest();
    }
    const claims: CheckpointClaims = { v: 1, count, head, at: new Date(this.#now()).toISOString() };
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'EdDSA', typ: CHECKPOINT_TYPE, kid: this.#kid })
      .sign(this.#key);
    try {
      await appendDurably(this.#fd, `${jws}\n`);
    } catch {
      this.#broken = true; // fail closed: a checkpoint not on disk is never handed out, nor any later one
      throw new SignerError('signer_internal');
    }
    this.#latest = { claims, jws };
    return this.latest();
  }

  async #load(onTornLine?: () => void): Promise<void> {
    if (!existsSync(this.#logPath)) return;
    const lines = readFileSync(this.#logPath, 'utf8').split('\n');
    while (lines.length > 0 && lines.at(-1) === '') lines.pop();
    // The last line alone decides (checkpoints only move forward); a torn one (crash mid-append: never handed out)
    // falls back to the line before it.
    for (let i = lines.length - 1; i >= 0; i -= 1) {
      const claims = await this.#verify(lines[i]!);
      if (claims) {
        this.#latest = { claims, jws: lines[i]! };
        return;
      }
      if (i !== lines.length - 1)
        throw new SignerConfigError(`checkpoint file ${this.#logPath} is corrupt at line ${i + 1}`);
      onTornLine?.();
    }
  }

  async #verify(jws: string): Promise<CheckpointClaims | null> {
    try {
      const { payload } = await compactVerify(jws, this.#publicKey, { algorithms: ['EdDSA'] });
      const claims = JSON.parse(new TextDecoder().decode(payload)) as unknown;
      return isCheckpointClaims(claims) ? claims : null;
    } catch {
      return null;
    }
  }
}

/** Parse `sign_checkpoint` params: exactly `{count, head}`, count a safe integer ≥ 1, head 64 lower-case hex. */
export function parseSignCheckpointParams(params: unknown): SignCheckpointParams {
  const p = params as Record<string, unknown> | null;
  if (
    p === null ||
    typeof p !== 'object' ||
    Array.isArray(p) ||
    Object.keys(p).sort().join(',') !== 'count,head' ||
    !Number.isSafeInteger(p.count) ||
    (p.count as number) < 1 ||
    typeof p.head !== 'string' ||
    !CHECKPOINT_HEAD.test(p.head)
  ) {
    throw new SignerError('invalid_params');
  }
  return { count: p.count as number, head: p.head };
}

function appendDurably(fd: number, text: string): Promise<void> {
  const bytes = Buffer.from(text, 'utf8');
  return new Promise<void>((resolve, reject) => {
    const step = (offset: number): void => {
      if (offset >= bytes.length) {
        fdatasync(fd, (error) => (error ? reject(error) : resolve()));
        return;
      }
      write(fd, bytes, offset, bytes.length - offset, null, (error, n) => (error ? reject(error) : step(offset + n)));
    };
    step(0);
  });
}
