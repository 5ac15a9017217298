import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, type Server } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { logEvent } from '@clawd402/protocol';
import { SignerConfigError } from './keystore.ts';

/**
 * Make the socket path ready to bind: create its directory (mode 0700) if missing, and remove a stale socket left by
 * a crashed signer. A live socket (another signer answers on it) or a path that is not a socket is refused, never
 * deleted.
 */
export async function prepareSocketPath(path: string, logger: Logger): Promise<void> {
  const dir = dirname(path);
  let dirExists = true;
  try {
    statSync(dir);
  } catch {
    dirExists = false;
  }
  if (!dirExists) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } else if ((statSync(dir).mode & 0o022) !== 0) {
    logEvent(logger, 'signer.insecure_setup', {
      problem: 'the socket directory is writable by group or others; prefer a private 0700 directory',
      dir,
    });
  }

  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new SignerConfigError(`${path} exists and is not a socket; refusing to replace it`);
  if (await socketAnswers(path)) throw new SignerConfigError(`another process is listening on ${path}`);
  unlinkSync(path);
  logger.info({ socket: path }, 'removed a stale socket');
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Listen on a Unix socket that is never reachable by anyone but its owner: the socket is created under umask 0177
 * (so it is born 0600, with no window) and chmod'ed 0600 again once bound.
 */
export function listenPrivate(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // process.umask(mask) is refused in worker threads; there the 0700 directory is what closes the window.
    let previous: number | undefined;
    try {
      previous = process.umask(0o177);
    } catch {
      previous = undefined;
    }
    const restore = (): void => {
      if (previous !== undefined) process.umask(previous);
      previous = undefined;
    };
    const onError = (error: Error): void => {
      restore();
      reject(error);
    };
    server.once('error', onError);
    server.listen({ path }, () => {
      restore();
      server.off('error', onError);
      try {
        chmodSync(path, 0o600);
        resolve();
      } catch (error) {
        server.close();
        reject(error instanceof Error ? error : new Error('listen failed', { cause: error }));
      }
    });
  });
}

/** Remove the socket file if it is (still) a socket. */
export function unlinkSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // already gone
  }
}
