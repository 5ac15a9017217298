#!/usr/bin/env tsx
/**
 * clawd402-signer CLI.
 *
 *   keystore new --out FILE --password-file FILE [--scrypt-n N]
 *   serve --socket PATH --keystore FILE [--keystore FILE…] --password-file FILE --gateway-key FILE
 *         [--chains 31337,1] [--journal FILE] [--log-level info]
 *
 * stdout carries exactly one JSON line per verb (the new address, or the ready event); logs go to stderr. This is the
 * only module that reads process.env, and the password is only ever read from a file.
 */
import { parseArgs } from 'node:util';
import { createKeystoreFile, readPasswordFile, SignerConfigError } from './keystore.ts';
import { createStderrLogger } from './logger.ts';
import { DEFAULT_CHAINS, startSigner } from './start-signer.ts';

const USAGE = `usage:
  clawd402-signer keystore new --out FILE --password-file FILE [--scrypt-n N]
  clawd402-signer serve --socket PATH --keystore FILE [--keystore FILE ...] --password-file FILE
                        --gateway-key FILE [--chains 31337,1] [--journal FILE] [--log-level LEVEL]
env fallbacks for serve: SIGNER_SOCKET, SIGNER_KEYSTORE (comma list), SIGNER_PASSWORD_FILE,
  SIGNER_GATEWAY_KEY_FILE, SIGNER_CHAINS, SIGNER_JOURNAL, LOG_LEVEL`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [verb, sub] = argv;
  if (verb === 'keystore' && sub === 'new') return keystoreNew(argv.slice(2));
  if (verb === 'serve') return serve(argv.slice(1));
  if (verb === undefined || verb === '--help' || verb === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  throw new UsageError(`unknown command: ${argv.slice(0, 2).join(' ')}`);
}

async function keystoreNew(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: { out: { type: 'string' }, 'password-file': { type: 'string' }, 'scrypt-n': { type: 'string' } },
  });
  if (!values.out) throw new UsageError('--out is required');
  if (!values['password-file']) throw new UsageError('--password-file is required');
  const password = readPasswordFile(values['password-file']);
  let scryptN: number | undefined;
  if (values['scrypt-n'] !== undefined) {
    if (!/^[1-9][0-9]*$/.test(values['scrypt-n'])) throw new UsageError('--scrypt-n must be a positive integer');
    scryptN = Number(values['scrypt-n']);
  }
  const { address } = await createKeystoreFile({ out: values.out, password, ...(scryptN === undefined ? {} : { scryptN }) });
  process.stdout.write(`${JSON.stringify({ address })}\n`);
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      socket: { type: 'string' },
      keystore: { type: 'string', multiple: true },
      'password-file': { type: 'string' },
      'gateway-key': { type: 'string' },
      chains: { type: 'string' },
      journal: { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const env = process.env;
  const socketPath = values.socket ?? env.SIGNER_SOCKET;
  const keystores = values.keystore ?? splitList(env.SIGNER_KEYSTORE);
  const passwordFile = values['password-file'] ?? env.SIGNER_PASSWORD_FILE;
  const gatewayKeyFile = values['gateway-key'] ?? env.SIGNER_GATEWAY_KEY_FILE;
  const chainsText = values.chains ?? env.SIGNER_CHAINS;
  const journalFile = values.journal ?? env.SIGNER_JOURNAL;
  if (!socketPath) throw new UsageError('--socket (or SIGNER_SOCKET) is required');
  if (keystores.length === 0) throw new UsageError('--keystore (or SIGNER_KEYSTORE) is required');
  if (!passwordFile) throw new UsageError('--password-file (or SIGNER_PASSWORD_FILE) is required');
  if (!gatewayKeyFile) throw new UsageError('--gateway-key (or SIGNER_GATEWAY_KEY_FILE) is required');
  const chains = chainsText === undefined || chainsText === '' ? undefined : parseChainList(chainsText);

  const logger = createStderrLogger(values['log-level'] ?? env.LOG_LEVEL ?? 'info');
  if (chains === undefined) logger.warn({ chains: DEFAULT_CHAINS }, 'no --chains given; signing only for the dev chain');
  const signer = await startSigner({
    socketPath,
    keystoreFiles: keystores,
    passwordFile,
    gatewayKeyFile,
    ...(chains === undefined ? {} : { chains }),
    ...(journalFile ? { journalFile } : {}),
    logger,
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    signer.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  process.stdout.write(`${JSON.stringify({ event: 'ready', socket: signer.socketPath, keys: signer.keys })}\n`);
}

function splitList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function parseChainList(text: string): number[] {
  return splitList(text).map((part) => {
    if (!/^[1-9][0-9]{0,15}$/.test(part) || !Number.isSafeInteger(Number(part))) {
      throw new UsageError(`--chains: "${part}" is not a chain id`);
    }
    return Number(part);
  });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error instanceof Error && error.name === 'TypeError' && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`clawd402-signer: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (error instanceof SignerConfigError) {
    process.stderr.write(`clawd402-signer: ${error.message}\n`);
    process.exit(1);
  }
  // A system error names its call and path (no secrets there); anything else only its class: a message from a
  // crypto or parsing library is not echoed.
  const sys = error as Partial<NodeJS.ErrnoException>;
  const detail = typeof sys.code === 'string' && typeof sys.syscall === 'string' ? `${sys.code} ${sys.syscall} ${sys.path ?? ''}`.trim() : sys.name ?? 'error';
  process.stderr.write(`clawd402-signer: failed to start (${detail})\n`);
  process.exit(1);
});
