import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';

/** npm package suffix of each platform build that `@foundry-rs/anvil` lists as an optional dependency. */
const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64': 'linux-amd64',
  'linux-arm64': 'linux-arm64',
  'darwin-x64': 'darwin-amd64',
  'darwin-arm64': 'darwin-arm64',
  'win32-x64': 'win32-amd64',
};

/**
 * Absolute path of the anvil binary shipped in the npm package `@foundry-rs/anvil-<platform>-<arch>`, the optional
 * dependency of `@foundry-rs/anvil` matching this machine. Nothing is downloaded: `@foundry-rs/anvil`'s postinstall
 * is deliberately not run, the binary arrives with the platform package. Depends on Node built-ins only, so the
 * gateway's embedded launcher can use it.
 *
 * @throws Error naming the missing package when this platform has no build or it was not installed.
 * @example
 * ```ts
 * spawn(anvilBinaryPath(), ['--host', '127.0.0.1', '--port', '0', '--silent']);
 * ```
 */
export function anvilBinaryPath(): string {
  const key = `${process.platform}-${process.arch}`;
  const suffix = PLATFORM_PACKAGES[key];
  if (suffix === undefined) {
    throw new Error(`anvil has no npm build for ${key}; supported: ${Object.keys(PLATFORM_PACKAGES).join(', ')}`);
  }
  const platformPackage = `@foundry-rs/anvil-${suffix}`;
  const binary = `bin/anvil${process.platform === 'win32' ? '.exe' : ''}`;
  let path: string;
  try {
    // Resolve from @foundry-rs/anvil itself: pnpm links the platform package next to it, not next to us.
    const fromTestkit = createRequire(import.meta.url);
    const fromAnvil = createRequire(fromTestkit.resolve('@foundry-rs/anvil/package.json'));
    path = fromAnvil.resolve(`${platformPackage}/${binary}`);
  } catch (cause) {
    throw new Error(
      `cannot find the anvil binary: ${platformPackage} (optional dependency of @foundry-rs/anvil) is not installed; ` +
        'run `pnpm install` on this platform',
      { cause },
    );
  }
  if (process.platform !== 'win32') {
    try {
      accessSync(path, constants.X_OK);
    } catch (cause) {
      throw new Error(`the anvil binary at ${path} is not executable (chmod +x it or reinstall)`, { cause });
    }
  }
  return path;
}
