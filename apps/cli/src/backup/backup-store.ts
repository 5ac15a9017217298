/**
 * Where backups live: a directory (`/var/backups/clawd402`, typically a mount that is not the gateway's disk) or an
 * S3-compatible bucket (`s3://bucket/prefix`). A backup is a folder `<id>/` holding its parts and `manifest.json`.
 * The manifest is written last, so a backup without one is incomplete and is never listed or restored; a directory
 * backup is built under `<id>.partial/` and renamed into place.
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as S3SdkModule from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { CliError } from '../cli-error.ts';

type S3Sdk = typeof S3SdkModule;

export interface BackupStore {
  /** A printable description (never credentials). */
  readonly location: string;
  /** Start writing backup `id`. */
  begin(id: string): Promise<void>;
  putFile(id: string, name: string, localFile: string): Promise<void>;
  /** Write the manifest, making the backup complete. */
  commit(id: string, manifestJson: string): Promise<void>;
  /** Give up on an unfinished backup. */
  abort(id: string): Promise<void>;
  /** The manifest's text, or null when there is no complete backup `id`. */
  readManifest(id: string): Promise<string | null>;
  /** Copy a part to a local file; false if it is missing. */
  getFile(id: string, name: string, localFile: string): Promise<boolean>;
  /** Ids of complete backups, oldest first. */
  list(): Promise<string[]>;
  /** Release connections. */
  close(): void;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const PART = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function assertId(id: string): string {
  if (!ID.test(id) || id.endsWith('.partial'))
    throw new CliError('usage', 'a backup id is letters, digits, dot, dash and underscore');
  return id;
}

function assertPart(name: string): string {
  if (!PART.test(name) || name === 'manifest.json')
    throw new CliError('backup_manifest_invalid', 'the manifest names a part with an invalid file name');
  return name;
}

export class DirectoryStore implements BackupStore {
  readonly location: string;
  constructor(private readonly root: string) {
    this.location = root;
  }
  #partial = (id: string) => join(this.root, `${id}.partial`);
  #final = (id: string) => join(this.root, id);

  async begin(id: string): Promise<void> {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    if (existsSync(this.#final(id)))
      throw new CliError('restore_target_not_empty', `a backup ${id} already exists there`);
    rmSync(this.#partial(id), { recursive: true, force: true });
    mkdirSync(this.#partial(id), { mode: 0o700 });
  }
  async putFile(id: string, name: string, localFile: string): Promise<void> {
    copyFileSync(localFile, join(this.#partial(id), assertPart(name)));
  }
  async commit(id: string, manifestJson: string): Promise<void> {
    writeFileSync(join(this.#partial(id), 'manifest.json'), manifestJson, { mode: 0o600 });
    renameSync(this.#partial(id), this.#final(id));
  }
  async abort(id: string): Promise<void> {
    rmSync(this.#partial(id), { recursive: true, force: true });
  }
  async readManifest(id: string): Promise<string | null> {
    const path = join(this.#final(assertId(id)), 'manifest.json');
    return existsSync(path) ? readFileSync(path, 'utf8') : null;
  }
  async getFile(id: string, name: string, localFile: string): Promise<boolean> {
    const path = join(this.#final(id), assertPart(name));
    if (!existsSync(path)) return false;
    copyFileSync(path, localFile);
    return true;
  }
  close(): void {}
  async list(): Promise<string[]> {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .filter(
        (name) =>
          ID.test(name) &&
          !name.endsWith('.partial') &&
          existsSync(join(this.root, name, 'manifest.json')) &&
          statSync(join(this.root, name)).isDirectory(),
      )
      .sort();
  }
}

export interface S3Location {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region?: string;
}

/** `s3://bucket/some/prefix` → bucket and prefix (without slashes at either end). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new CliError('usage', 'an S3 location is s3://bucket[/prefix]');
  return { bucket: match[1]!, prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/**
 * An S3-compatible bucket. Credentials come from the AWS SDK's default chain (AWS_SHARED_CREDENTIALS_FILE or
 * AWS_WEB_IDENTITY_TOKEN_FILE are the file-based ones; an instance role needs nothing); they are never taken on the
 * command line. `endpoint` selects a non-AWS service (MinIO, Ceph, R2, …) with path-style addressing.
 */
export class S3Store implements BackupStore {
  readonly location: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #sdk: S3Sdk;

  /** Loads the AWS SDK only when an S3 location is used. */
  static async open(location: S3Location): Promise<S3Store> {
    return new S3Store(location, await import('@aws-sdk/client-s3'));
  }

  private constructor(location: S3Location, sdk: S3Sdk) {
    this.#sdk = sdk;
    this.#bucket = location.bucket;
    this.#prefix = location.prefix;
    this.location = `s3://${location.bucket}/${location.prefix}`;
    this.#client = new sdk.S3Client({
      region: location.region ?? 'us-east-1',
      // Other S3-compatible services: path-style addressing, and checksums only where S3 requires them (the SDK's
      // default aws-chunked uploads with trailing checksums are not understood by every implementation).
      ...(location.endpoint
        ? {
            endpoint: location.endpoint,
            forcePathStyle: true,
            requestChecksumCalculation: 'WHEN_REQUIRED' as const,
            responseChecksumValidation: 'WHEN_REQUIRED' as const,
          }
        : {}),
      maxAttempts: 3,
    });
  }

  #key = (id: string, name: string) => [this.#prefix, id, name].filter((s) => s.length > 0).join('/');

  async #send<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      const name = (cause as Error).name;
      if (name === 'NoSuchKey' || name === 'NotFound') throw cause;
      throw new CliError('storage_unavailable', `the object store refused or did not answer (${name})`, { cause });
    }
  }

  async begin(id: string): Promise<void> {
    if ((await this.readManifest(id)) !== null)
      throw new CliError('restore_target_not_empty', `a backup ${id} already exists there`);
  }
  async putFile(id: string, name: string, localFile: string): Promise<void> {
    const size = statSync(localFile).size;
    await this.#send(() =>
      this.#client.send(
        new this.#sdk.PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key(id, assertPart(name)),
          Body: createReadStream(localFile),
          ContentLength: size,
        }),
      ),
    );
  }
  async commit(id: string, manifestJson: string): Promise<void> {
    await this.#send(() =>
      this.#client.send(
        new this.#sdk.PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key(id, 'manifest.json'),
          Body: manifestJson,
          ContentType: 'application/json',
        }),
      ),
    );
  }
  async abort(): Promise<void> {
    // Parts without a manifest are never listed or restored; a bucket lifecycle rule can expire them.
  }
  async readManifest(id: string): Promise<string | null> {
    try {
      const out = await this.#send(() =>
        this.#client.send(
          new this.#sdk.GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(assertId(id), 'manifest.json') }),
        ),
      );
      return await out.Body!.transformToString('utf8');
    } catch (error) {
      if (error instanceof CliError) throw error;
      return null;
    }
  }
  async getFile(id: string, name: string, localFile: string): Promise<boolean> {
    try {
      const out = await this.#send(() =>
        this.#client.send(
          new this.#sdk.GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(id, assertPart(name)) }),
        ),
      );
      await pipeline(out.Body as Readable, createWriteStream(localFile, { mode: 0o600 }));
      return true;
    } catch (error) {
      if (error instanceof CliError) throw error;
      return false;
    }
  }
  async list(): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.#send(() =>
        this.#client.send(
          new this.#sdk.ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix ? `${this.#prefix}/` : '',
            ContinuationToken: token,
          }),
        ),
      );
      for (const o of out.Contents ?? []) {
        const rest = (o.Key ?? '').slice(this.#prefix ? this.#prefix.length + 1 : 0).split('/');
        if (rest.length === 2 && rest[1] === 'manifest.json' && ID.test(rest[0]!)) ids.push(rest[0]!);
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return ids.sort();
  }

  close(): void {
    this.#client.destroy();
  }
}

export async function openStore(
  location: string,
  options: { s3Endpoint?: string; s3Region?: string },
): Promise<BackupStore> {
  if (location.startsWith('s3://')) {
    const { bucket, prefix } = parseS3Url(location);
    return S3Store.open({
      bucket,
      prefix,
      ...(options.s3Endpoint ? { endpoint: options.s3Endpoint } : {}),
      ...(options.s3Region ? { region: options.s3Region } : {}),
    });
  }
  return new DirectoryStore(location);
}
