#!/usr/bin/env node
// Compiles every .sol file under packages/testkit/contracts/, plus the few contracts listed in PACKAGE_CONTRACTS that
// are compiled straight from their npm package's source (e.g. Chainlink's MockV3Aggregator), with solc from npm (the
// JS build, no download) and writes artifacts/<ContractName>.json = { contractName, sourceName, abi, bytecode,
// solcVersion, inputHash }.
//
// Skips the work when artifacts/index.json carries the same input hash: sha256 over the compiler settings, the solc,
// @openzeppelin/contracts and @chainlink/contracts versions, and the path and content of every contract source.
// `--force` recompiles.
// Writes are atomic (temp file + rename), so two test processes compiling on demand at once cannot leave a torn file.
//
// Usage: node scripts/compile.mjs [--force] [--quiet]      (package script: `pnpm --filter @clawd402/testkit build`)
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const contractsDir = join(packageDir, 'contracts');
const artifactsDir = join(packageDir, 'artifacts');
const indexFile = join(artifactsDir, 'index.json');
const require = createRequire(join(packageDir, 'package.json'));

/** Compiler settings; part of the input hash. cancun is supported by anvil 1.7's default hardfork (latest). */
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
};

/**
 * Contracts compiled from an npm package's own source rather than from contracts/: source unit → contract names to
 * write artifacts for (the file's other contracts and its imports are compiled but not written).
 * MockV3Aggregator: Chainlink's test aggregator (AggregatorV2V3Interface; `updateAnswer`, `updateRoundData`).
 */
const PACKAGE_CONTRACTS = {
  '@chainlink/contracts/src/v0.8/tests/MockV3Aggregator.sol': ['MockV3Aggregator'],
};

/** @param {string} dir @returns {string[]} absolute paths of .sol files, sorted */
function findSources(dir) {
  const out = [];
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findSources(path));
    else if (name.endsWith('.sol')) out.push(path);
  }
  return out;
}

/** Source unit name as solc sees it: path relative to the package, with forward slashes. */
const unitName = (absPath) => relative(packageDir, absPath).split(sep).join('/');

function computeInputHash(sources) {
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify({
      settings: SETTINGS,
      solc: require('solc/package.json').version,
      openzeppelin: require('@openzeppelin/contracts/package.json').version,
      chainlink: require('@chainlink/contracts/package.json').version,
    }),
  );
  for (const [name, { content }] of Object.entries(sources)) {
    hash.update(`\0${name}\0${createHash('sha256').update(content).digest('hex')}`);
  }
  return hash.digest('hex');
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function writeAtomic(path, text) {
  const tmp = `${path}.${process.pid}.${Math.random().toString(16).slice(2)}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** True when artifacts/index.json and every artifact it lists carry `inputHash`. */
function upToDate(inputHash) {
  const index = readJson(indexFile);
  if (!index || index.inputHash !== inputHash || !Array.isArray(index.contracts)) return false;
  return index.contracts.every((name) => readJson(join(artifactsDir, `${name}.json`))?.inputHash === inputHash);
}

/** Resolves imports that are not among our own sources, e.g. `@openzeppelin/contracts/...`, from node_modules. */
function findImports(path) {
  try {
    if (path.startsWith('contracts/')) return { contents: readFileSync(join(packageDir, path), 'utf8') };
    return { contents: readFileSync(require.resolve(path), 'utf8') };
  } catch (error) {
    return { error: `cannot resolve import "${path}": ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * Compiles the contracts when their artifacts are missing or stale.
 * @param {{ force?: boolean, quiet?: boolean }} [options]
 * @returns {Promise<{ compiled: boolean, contracts: string[], artifactsDir: string }>}
 */
export async function compileContracts({ force = false, quiet = false } = {}) {
  const log = quiet ? () => {} : (message) => console.log(`[testkit compile] ${message}`);
  const files = findSources(contractsDir);
  if (files.length === 0) throw new Error(`no .sol files under ${contractsDir}`);
  const sources = Object.fromEntries(files.map((f) => [unitName(f), { content: readFileSync(f, 'utf8') }]));
  for (const unit of Object.keys(PACKAGE_CONTRACTS))
    sources[unit] = { content: readFileSync(require.resolve(unit), 'utf8') };
  /** Which contracts of a source unit get an artifact: all of ours, the listed ones of a package's. */
  const selected = (unit) => PACKAGE_CONTRACTS[unit] ?? ['*'];
  const inputHash = computeInputHash(sources);

  if (!force && upToDate(inputHash)) {
    const { contracts } = readJson(indexFile);
    log(`artifacts up to date (${contracts.join(', ')})`);
    return { compiled: false, contracts, artifactsDir };
  }

  const started = Date.now();
  // Loading solc's emscripten build takes a moment; only done when there is work.
  const solc = require('solc');
  const solcVersion = solc.version();
  log(`compiling ${Object.keys(sources).join(', ')} with solc ${solcVersion}`);
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: Object.fromEntries(
        Object.keys(sources).map((name) => [
          name,
          Object.fromEntries(selected(name).map((c) => [c, ['abi', 'evm.bytecode.object']])),
        ]),
      ),
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const diagnostics = output.errors ?? [];
  for (const d of diagnostics) if (d.severity !== 'error' && !quiet) console.warn(d.formattedMessage ?? d.message);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new Error(`solc failed:\n${errors.map((d) => d.formattedMessage ?? d.message).join('\n')}`);
  }

  mkdirSync(artifactsDir, { recursive: true });
  const written = [];
  for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
    if (!(sourceName in sources)) continue;
    for (const [contractName, contract] of Object.entries(contracts)) {
      if (!selected(sourceName).includes('*') && !selected(sourceName).includes(contractName)) continue;
      if (written.includes(contractName)) {
        throw new Error(`two contracts are named ${contractName}; artifact names must be unique`);
      }
      const artifact = {
        contractName,
        sourceName,
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
        solcVersion,
        inputHash,
      };
      writeAtomic(join(artifactsDir, `${contractName}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
      written.push(contractName);
    }
  }
  written.sort();
  // Drop artifacts of contracts that no longer exist.
  for (const name of readdirSync(artifactsDir)) {
    if (name.endsWith('.json') && name !== 'index.json' && !written.includes(name.slice(0, -'.json'.length))) {
      rmSync(join(artifactsDir, name), { force: true });
    }
  }
  writeAtomic(indexFile, `${JSON.stringify({ inputHash, solcVersion, contracts: written }, null, 2)}\n`);
  log(`wrote ${written.map((n) => `artifacts/${n}.json`).join(', ')} in ${Date.now() - started} ms`);
  return { compiled: true, contracts: written, artifactsDir };
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const args = process.argv.slice(2);
  compileContracts({ force: args.includes('--force'), quiet: args.includes('--quiet') }).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
