import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Abi, Hex } from 'viem';

/** A compiled contract, as written by `scripts/compile.mjs` to `artifacts/<contractName>.json`. */
export interface ContractArtifact {
  readonly contractName: string;
  /** Source unit, e.g. `contracts/TestToken.sol`. */
  readonly sourceName: string;
  readonly abi: Abi;
  /** Creation bytecode, 0x-prefixed. */
  readonly bytecode: Hex;
  /** Full solc version string, e.g. `0.8.37+commit.f401782d.Emscripten.clang`. */
  readonly solcVersion: string;
  /** sha256 over compiler settings, solc and OpenZeppelin versions and all sources; decides when to recompile. */
  readonly inputHash: string;
}

const ARTIFACTS_DIR = fileURLToPath(new URL('../artifacts/', import.meta.url));
const COMPILE_SCRIPT = fileURLToPath(new URL('../scripts/compile.mjs', import.meta.url));

/** Absolute path of the artifacts directory (gitignored; filled by `pnpm --filter @clawd402/testkit build`). */
export function artifactsDir(): string {
  return ARTIFACTS_DIR;
}

/**
 * Reads `artifacts/<name>.json`.
 *
 * @throws Error telling to run `pnpm --filter @clawd402/testkit build` when the artifact is missing or unreadable.
 * @example
 * ```ts
 * const { abi, bytecode } = loadArtifact('TestToken');
 * ```
 */
export function loadArtifact(name: string): ContractArtifact {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) throw new Error(`loadArtifact: "${name}" is not a contract name`);
  const path = `${ARTIFACTS_DIR}${name}.json`;
  let artifact: ContractArtifact;
  try {
    artifact = JSON.parse(readFileSync(path, 'utf8')) as ContractArtifact;
  } catch (cause) {
    throw new Error(
      `contract artifact ${path} is missing or unreadable: run \`pnpm --filter @clawd402/testkit build\` ` +
        '(or `pnpm build` in packages/testkit) to compile packages/testkit/contracts',
      { cause },
    );
  }
  if (!Array.isArray(artifact.abi) || typeof artifact.bytecode !== 'string' || !artifact.bytecode.startsWith('0x')) {
    throw new Error(`contract artifact ${path} has no abi/bytecode: run \`pnpm --filter @clawd402/testkit build\``);
  }
  return artifact;
}

let compiling: Promise<void> | undefined;

/**
 * Runs `scripts/compile.mjs` (solc from npm) in a child process; it returns at once when the artifacts are up to
 * date with the sources. Runs at most once per process unless `force` is set.
 */
export function compileContracts(options: { force?: boolean } = {}): Promise<void> {
  if (compiling && !options.force) return compiling;
  const args = [COMPILE_SCRIPT, '--quiet', ...(options.force ? ['--force'] : [])];
  const run = new Promise<void>((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(
          new Error(`compiling the testkit contracts failed:\n${`${stderr}${stdout}`.trim() || error.message}`, {
            cause: error,
          }),
        );
      } else {
        resolve();
      }
    });
  });
  compiling = run.catch((error: unknown) => {
    compiling = undefined; // let a later call retry
    throw error;
  });
  return compiling;
}

/**
 * Like {@link loadArtifact}, but first brings the artifacts up to date (compiling on demand), so a bare test run
 * works without `pnpm build`.
 */
export async function loadOrCompileArtifact(name: string): Promise<ContractArtifact> {
  await compileContracts();
  return loadArtifact(name);
}
