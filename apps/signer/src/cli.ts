#!/usr/bin/env tsx
/**
 * clawd402-signer CLI: key management and the signer itself. See USAGE and apps/signer/README.md.
 *
 * stdout carries exactly one JSON line per verb (the result, or the ready event); logs go to stderr. This is the only
 * module that reads process.env, and secrets (passwords, private keys, mnemonics) are only ever read from files.
 */
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { SIGNER_FAULT_POINTS, armFaultPoint, latchReleaseMessage, logEvent, parseFaultPoint } from '@clawd402/protocol';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Address } from 'viem';
import { checkIsolation, enforceIsolation } from './isolation.ts';
import {
  addLedgerKey,
  assignKey,
  generateKey,
  importKey,
  readKeyDirectory,
  rotateKey,
  type ImportSource,
  type KeyRecord,
} from './keys/key-directory.ts';
import { DEFAULT_DEVICE_TIMEOUT_MS, LedgerDevice, ledgerAddress } from './keys/ledger-key.ts';
import { createKeystoreFile, readPasswordFile, SignerConfigError } from './keystore.ts';
import { createStderrLogger } from './logger.ts';
import { loadSignerPolicy } from './policy/signer-policy.ts';
import { SignerJournal } from './signer-journal.ts';
import { DEFAULT_CHAINS, startSigner } from './start-signer.ts';

const USAGE = `usage:
  clawd402-signer keystore new --out FILE --password-file FILE [--scrypt-n N]
  clawd402-signer keys generate --key-dir DIR --password-file FILE [--hd-wallet NAME [--hd-path-template T]]
                                [--label L] [--agent A] [--scrypt-n N]
  clawd402-signer keys import --key-dir DIR --password-file FILE
                              (--keystore FILE --keystore-password-file FILE | --private-key-file FILE
                               | --mnemonic-file FILE --hd-wallet NAME [--hd-path-template T])
                              [--label L] [--agent A] [--scrypt-n N]
  clawd402-signer keys add-ledger --key-dir DIR --path PATH [--chain-id N] [--label L] [--agent A]
  clawd402-signer keys list --key-dir DIR [--journal FILE]
  clawd402-signer keys assign --key-dir DIR --key ID (--agent A | --unassign)
  clawd402-signer keys rotate --key-dir DIR --key ID --password-file FILE [--path PATH] [--scrypt-n N]
  clawd402-signer serve --socket PATH (--key-dir DIR | --keystore FILE ...) --password-file FILE --gateway-key FILE
                        [--policy FILE] [--journal FILE] [--checkpoint-dir DIR] [--chains 31337,1] [--device-timeout-ms N]
                        [--release-key FILE] [--log-level LEVEL] [--allow-root] [--allow-core-dumps]
  clawd402-signer latch status --journal FILE
  clawd402-signer latch release --journal FILE        (the signer stopped: lifts the kill-switch latch on this host)
  clawd402-signer latch sign-release --key FILE --latch ID   (an owner's Ed25519 private key: prints the authorisation)
env fallbacks for serve: SIGNER_SOCKET, SIGNER_KEY_DIR, SIGNER_KEYSTORE (comma list), SIGNER_PASSWORD_FILE,
  SIGNER_GATEWAY_KEY_FILE, SIGNER_POLICY_FILE, SIGNER_CHAINS, SIGNER_JOURNAL, SIGNER_CHECKPOINT_DIR,
  SIGNER_RELEASE_KEY_FILE, LOG_LEVEL; SIGNER_FAULT_POINT (crash tests, NODE_ENV=test only)
NODE_ENV=production requires --policy and --journal, and refuses root, enabled core dumps and secret-looking env vars.
SIGHUP re-reads the gateway key file, the policy and the key directory metadata.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [verb, sub] = argv;
  if (verb === 'keystore' && sub === 'new') return keystoreNew(argv.slice(2));
  if (verb === 'keys' && sub !== undefined && sub in KEY_VERBS) return KEY_VERBS[sub]!(argv.slice(2));
  if (verb === 'serve') return serve(argv.slice(1));
  if (verb === 'latch' && sub !== undefined && sub in LATCH_VERBS) return LATCH_VERBS[sub]!(argv.slice(2));
  if (verb === undefined || verb === '--help' || verb === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  throw new UsageError(`unknown command: ${argv.slice(0, 2).join(' ')}`);
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** A verb's options, parsed strictly: an unknown option or a stray word is an error. */
function verbOptions<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  return parseArgs({ args, strict: true, allowPositionals: false, options }).values;
}

/** Options that each take a value (`--name VALUE`), one per name. */
function stringOptions<N extends string>(...names: N[]): Record<N, { type: 'string' }> {
  return Object.fromEntries(names.map((name) => [name, { type: 'string' }])) as Record<N, { type: 'string' }>;
}

function scryptN(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(text)) throw new UsageError('--scrypt-n must be a positive integer');
  return Number(text);
}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`--${name} is required`);
  return value;
}

async function keystoreNew(args: string[]): Promise<void> {
  const values = verbOptions(args, stringOptions('out', 'password-file', 'scrypt-n'));
  const out = required(values, 'out');
  const password = readPasswordFile(required(values, 'password-file'));
  const n = scryptN(values['scrypt-n']);
  const { address } = await createKeystoreFile({ out, password, ...(n === undefined ? {} : { scryptN: n }) });
  print({ address });
}

const COMMON = stringOptions('key-dir', 'password-file', 'label', 'agent', 'scrypt-n');

/** The --label and --agent a new key gets, where given. */
function labelAndAgent(values: { label?: string; agent?: string }): { label?: string; agent?: string } {
  return {
    ...(values.label === undefined ? {} : { label: values.label }),
    ...(values.agent === undefined ? {} : { agent: values.agent }),
  };
}

function newKeyOptions(values: { 'password-file'?: string; label?: string; agent?: string; 'scrypt-n'?: string }) {
  const n = scryptN(values['scrypt-n']);
  return {
    password: readPasswordFile(required(values, 'password-file')),
    ...labelAndAgent(values),
    ...(n === undefined ? {} : { scryptN: n }),
  };
}

/** What the CLI prints about a key: metadata only. */
function describe(record: KeyRecord): Record<string, unknown> {
  const { id, address, backend, path, label, agent, created, state, rotatedTo, rotatedFrom, wallet, index } = record;
  return { id, address, backend, path, wallet, index, label, agent, created, state, rotatedTo, rotatedFrom };
}

async function ledgerConfirmedAddress(
  path: string,
  chainId: string | undefined,
  timeout: string | undefined,
): Promise<Address> {
  const device = new LedgerDevice({ timeoutMs: timeout === undefined ? DEFAULT_DEVICE_TIMEOUT_MS : Number(timeout) });
  process.stderr.write(`clawd402-signer: confirm the address for ${path} on the Ledger's screen\n`);
  return ledgerAddress(device, path, { display: true, ...(chainId === undefined ? {} : { chainId: Number(chainId) }) });
}

/** The options that name a Ledger account: its path, the chain to show, how long to wait for the device. */
const LEDGER_ACCOUNT = stringOptions('path', 'chain-id', 'device-timeout-ms');

/** The Ledger account --path names, its address confirmed on the device's screen. */
async function confirmedLedgerAccount(values: {
  path?: string;
  'chain-id'?: string;
  'device-timeout-ms'?: string;
}): Promise<{ path: string; address: Address }> {
  const path = required(values, 'path');
  return { path, address: await ledgerConfirmedAddress(path, values['chain-id'], values['device-timeout-ms']) };
}

const KEY_VERBS: Record<string, (args: string[]) => Promise<void>> = {
  async generate(args) {
    const values = verbOptions(args, { ...COMMON, ...stringOptions('hd-wallet', 'hd-path-template') });
    const dir = required(values, 'key-dir');
    if (values['hd-path-template'] !== undefined && values['hd-wallet'] === undefined)
      throw new UsageError('--hd-path-template needs --hd-wallet');
    const record = await generateKey(dir, {
      ...newKeyOptions(values),
      ...(values['hd-wallet'] === undefined ? {} : { hdWallet: values['hd-wallet'] }),
      ...(values['hd-path-template'] === undefined ? {} : { pathTemplate: values['hd-path-template'] }),
    });
    print(describe(record));
  },

  async import(args) {
    const values = verbOptions(args, {
      ...COMMON,
      ...stringOptions(
        'keystore',
        'keystore-password-file',
        'private-key-file',
        'mnemonic-file',
        'hd-wallet',
        'hd-path-template',
      ),
    });
    const dir = required(values, 'key-dir');
    const chosen = [values.keystore, values['private-key-file'], values['mnemonic-file']].filter(
      (v) => v !== undefined,
    );
    if (chosen.length !== 1)
      throw new UsageError('give exactly one of --keystore, --private-key-file, --mnemonic-file');
    let source: ImportSource;
    if (values.keystore !== undefined) {
      source = {
        keystoreFile: values.keystore,
        keystorePassword: readPasswordFile(required(values, 'keystore-password-file')),
      };
    } else if (values['private-key-file'] !== undefined) {
      source = { privateKeyFile: values['private-key-file'] };
    } else {
      source = {
        mnemonicFile: values['mnemonic-file']!,
        hdWallet: required(values, 'hd-wallet'),
        ...(values['hd-path-template'] === undefined ? {} : { pathTemplate: values['hd-path-template'] }),
      };
    }
    print(describe(await importKey(dir, source, newKeyOptions(values))));
  },

  async 'add-ledger'(args) {
    const values = verbOptions(args, { ...stringOptions('key-dir', 'label', 'agent'), ...LEDGER_ACCOUNT });
    const dir = required(values, 'key-dir');
    const ledger = await confirmedLedgerAccount(values);
    const record = await addLedgerKey(dir, { ...ledger, ...labelAndAgent(values) });
    print(describe(record));
  },

  async list(args) {
    const values = verbOptions(args, stringOptions('key-dir', 'journal'));
    const data = readKeyDirectory(required(values, 'key-dir'));
    const journal =
      values.journal !== undefined && existsSync(values.journal)
        ? new SignerJournal({ path: values.journal, readOnly: true })
        : undefined;
    print({
      keys: data.keys.map((record) => {
        const usage = journal?.usage(record.id);
        return {
          ...describe(record),
          ...(usage
            ? { usage: { ...usage, lastUsed: usage.lastUsed === null ? null : new Date(usage.lastUsed).toISOString() } }
            : {}),
        };
      }),
      wallets: data.wallets.map(({ name, pathTemplate, nextIndex, created }) => ({
        name,
        pathTemplate,
        nextIndex,
        created,
      })),
    });
  },

  async assign(args) {
    const values = verbOptions(args, {
      ...stringOptions('key-dir', 'key', 'agent'),
      unassign: { type: 'boolean' },
    });
    if ((values.agent === undefined) === (values.unassign !== true))
      throw new UsageError('give --agent A or --unassign');
    print(
      describe(
        await assignKey(required(values, 'key-dir'), { key: required(values, 'key'), agent: values.agent ?? null }),
      ),
    );
  },

  async rotate(args) {
    const values = verbOptions(args, { ...COMMON, ...stringOptions('key'), ...LEDGER_ACCOUNT });
    const dir = required(values, 'key-dir');
    const key = required(values, 'key');
    const old = readKeyDirectory(dir).keys.find((k) => k.id.toLowerCase() === key.toLowerCase());
    let ledger: { address: Address; path: string } | undefined;
    if (old?.backend === 'ledger') ledger = await confirmedLedgerAccount(values);
    const result = await rotateKey(dir, { ...newKeyOptions(values), key, ...(ledger ? { ledger } : {}) });
    print({ old: describe(result.old), new: describe(result.new) });
  },
};

/**
 * The kill-switch latch on the signer's own host (docs/killswitch.md). `release` rewrites nothing: it appends the
 * lifting line to the journal, and must run with the signer stopped (a running signer keeps its latch in memory and
 * writes it back at its next compaction, so a release behind its back does not take).
 */
const LATCH_VERBS: Record<string, (args: string[]) => Promise<void>> = {
  async status(args) {
    const values = verbOptions(args, stringOptions('journal'));
    const latch = new SignerJournal({ path: required(values, 'journal'), readOnly: true }).latch;
    print(
      latch ? { latched: true, latchId: latch.id, since: new Date(latch.since).toISOString() } : { latched: false },
    );
  },
  async release(args) {
    const values = verbOptions(args, stringOptions('journal'));
    const path = required(values, 'journal');
    const journal = new SignerJournal({ path });
    const latch = journal.latch;
    if (latch) journal.clearLatch(latch.id);
    await journal.close();
    print({ latched: false, released: latch?.id ?? null });
  },
  async 'sign-release'(args) {
    const values = verbOptions(args, stringOptions('key', 'latch'));
    const key = createPrivateKey(readFileSync(required(values, 'key'), 'utf8'));
    if (key.asymmetricKeyType !== 'ed25519') throw new UsageError('--key must be an Ed25519 private key (PEM)');
    const latchId = required(values, 'latch');
    print({ latchId, authorization: cryptoSign(null, latchReleaseMessage(latchId), key).toString('base64url') });
  },
};

async function serve(args: string[]): Promise<void> {
  const values = verbOptions(args, {
    ...stringOptions(
      'socket',
      'key-dir',
      'password-file',
      'gateway-key',
      'policy',
      'chains',
      'journal',
      'checkpoint-dir',
      'release-key',
      'device-timeout-ms',
      'log-level',
    ),
    keystore: { type: 'string', multiple: true },
    'allow-root': { type: 'boolean' },
    'allow-core-dumps': { type: 'boolean' },
  });
  const env = process.env;
  const production = env.NODE_ENV === 'production';
  const socketPath = values.socket ?? env.SIGNER_SOCKET;
  const keystores = values.keystore ?? splitList(env.SIGNER_KEYSTORE);
  const keyDir = values['key-dir'] ?? env.SIGNER_KEY_DIR;
  const passwordFile = values['password-file'] ?? env.SIGNER_PASSWORD_FILE;
  const gatewayKeyFile = values['gateway-key'] ?? env.SIGNER_GATEWAY_KEY_FILE;
  const policyFile = values.policy ?? env.SIGNER_POLICY_FILE;
  const chainsText = values.chains ?? env.SIGNER_CHAINS;
  const journalFile = values.journal ?? env.SIGNER_JOURNAL;
  const checkpointDir = values['checkpoint-dir'] ?? env.SIGNER_CHECKPOINT_DIR;
  const releaseKeyFile = values['release-key'] ?? env.SIGNER_RELEASE_KEY_FILE;
  if (!socketPath) throw new UsageError('--socket (or SIGNER_SOCKET) is required');
  if (keystores.length === 0 && !keyDir)
    throw new UsageError('--key-dir or --keystore (or SIGNER_KEY_DIR / SIGNER_KEYSTORE) is required');
  if (!passwordFile) throw new UsageError('--password-file (or SIGNER_PASSWORD_FILE) is required');
  if (!gatewayKeyFile) throw new UsageError('--gateway-key (or SIGNER_GATEWAY_KEY_FILE) is required');
  if (production && !policyFile)
    throw new SignerConfigError('NODE_ENV=production requires --policy: the signer must keep its own limits');
  if (production && !journalFile)
    throw new SignerConfigError(
      'NODE_ENV=production requires --journal: used tickets and daily spend must survive a restart',
    );
  try {
    // Crash tests only (docs/recovery.md): refused unless NODE_ENV=test, so production never arms it.
    armFaultPoint(parseFaultPoint(env.SIGNER_FAULT_POINT, SIGNER_FAULT_POINTS, env.NODE_ENV));
  } catch (error) {
    throw new SignerConfigError(`SIGNER_FAULT_POINT ${(error as Error).message}`);
  }
  const chains = chainsText === undefined || chainsText === '' ? undefined : parseChainList(chainsText);
  const timeout = values['device-timeout-ms'];
  if (timeout !== undefined && !/^[1-9][0-9]{0,8}$/.test(timeout))
    throw new UsageError('--device-timeout-ms must be a positive integer');

  const logger = createStderrLogger(values['log-level'] ?? env.LOG_LEVEL ?? 'info');
  enforceIsolation(
    checkIsolation({
      env,
      uid: process.getuid?.(),
      allowRoot: values['allow-root'] === true,
      allowCoreDumps: values['allow-core-dumps'] === true,
    }),
    production,
    (problem) => logEvent(logger, 'signer.insecure_setup', { problem }),
  );
  if (!policyFile)
    logEvent(logger, 'signer.insecure_setup', {
      problem: 'no --policy given: no per-key chain, value or operation limits apply (development only)',
    });
  if (chains === undefined && !policyFile)
    logEvent(logger, 'signer.insecure_setup', {
      problem: 'no --chains given; signing only for the dev chain',
      chains: DEFAULT_CHAINS,
    });
  const signer = await startSigner({
    socketPath,
    keystoreFiles: keystores,
    ...(keyDir ? { keyDir } : {}),
    passwordFile,
    gatewayKeyFile,
    ...(policyFile ? { policy: loadSignerPolicy(policyFile), policyFile } : {}),
    ...(chains === undefined ? {} : { chains }),
    ...(journalFile ? { journalFile } : {}),
    ...(checkpointDir ? { checkpointDir } : {}),
    ...(releaseKeyFile ? { releaseKeyFile } : {}),
    ...(timeout === undefined ? {} : { ledger: { timeoutMs: Number(timeout) } }),
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
  process.on('SIGHUP', () => {
    signer.reload().catch((error: unknown) => {
      logEvent(logger, 'signer.reload_failed', {
        errorName: error instanceof Error ? error.name : typeof error,
        reason: error instanceof SignerConfigError ? error.message : undefined,
      });
    });
  });

  print({ event: 'ready', socket: signer.socketPath, keys: signer.keys });
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

/**
 * Anything that escapes is reported by class only: an error message from a crypto or parsing library may quote its
 * input. This replaces Node's default handler, which would print the message and stack.
 */
function fatal(error: unknown): never {
  if (
    error instanceof UsageError ||
    (error instanceof Error &&
      error.name === 'TypeError' &&
      'code' in error &&
      String(error.code).startsWith('ERR_PARSE_ARGS'))
  ) {
    process.stderr.write(`clawd402-signer: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (error instanceof SignerConfigError) {
    logEvent(createStderrLogger(), 'signer.startup_refused', { reason: error.message });
    process.stderr.write(`clawd402-signer: ${error.message}\n`);
    process.exit(1);
  }
  // A system error names its call and path (no secrets there); anything else only its class.
  const sys = error as Partial<NodeJS.ErrnoException>;
  const detail =
    typeof sys.code === 'string' && typeof sys.syscall === 'string'
      ? `${sys.code} ${sys.syscall} ${sys.path ?? ''}`.trim()
      : (sys.name ?? 'error');
  const code = (error as { code?: unknown } | null)?.code;
  process.stderr.write(
    `clawd402-signer: failed (${detail}${typeof code === 'string' && !detail.includes(code) ? ` ${code}` : ''})\n`,
  );
  process.exit(1);
}

process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
main(process.argv.slice(2)).catch(fatal);
