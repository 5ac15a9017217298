#!/usr/bin/env node
// Production dependencies: check every licence against scripts/licenses-allowed.json and write a CycloneDX 1.6 SBOM.
// The inventory is pnpm's own (`pnpm licenses list --prod --json`: every production package of every workspace
// package, with its versions and declared licence); the SBOM is built and serialised with CycloneDX's official
// JavaScript library. Usage: node scripts/licenses-sbom.mjs [output-dir] (default .artifacts/).
// Exit 0 all allowed, 1 a licence is not allowed, 2 the inventory could not be read.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';

const root = new URL('..', import.meta.url).pathname;
const outDir = resolve(process.argv[2] ?? join(root, '.artifacts'));
const pnpm = process.env.PNPM_CMD ?? 'npx -y pnpm@10.34.8';

const listed = spawnSync(`${pnpm} licenses list --prod --json`, {
  cwd: root,
  shell: true,
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
let byLicense;
try {
  if (listed.status !== 0) throw new Error(listed.stderr.trim().split('\n').at(-1) ?? `exit ${listed.status}`);
  byLicense = JSON.parse(listed.stdout);
} catch (error) {
  console.error(`licences: could not list production dependencies (${error.message}); nothing was checked`);
  process.exit(2);
}

const policy = JSON.parse(readFileSync(join(root, 'scripts/licenses-allowed.json'), 'utf8'));
const allowed = new Set(policy.allowed);
/** A small SPDX expression check: parentheses stripped, OR needs one allowed side, AND needs all. */
function permitted(expression) {
  const e = expression.replace(/[()]/g, ' ').trim();
  if (/\sOR\s/i.test(e)) return e.split(/\s+OR\s+/i).some(permitted);
  if (/\sAND\s/i.test(e)) return e.split(/\s+AND\s+/i).every(permitted);
  return allowed.has(e);
}

const packages = [];
for (const [license, list] of Object.entries(byLicense)) {
  for (const p of list)
    for (const version of p.versions) packages.push({ name: p.name, version, license, homepage: p.homepage });
}
packages.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
const refused = packages.filter((p) => !permitted(p.license) && !(p.name in policy.exceptions));
const excepted = packages.filter((p) => !permitted(p.license) && p.name in policy.exceptions);

// CycloneDX SBOM.
const bom = new CDX.Models.Bom();
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
bom.metadata.component = new CDX.Models.Component(CDX.Enums.ComponentType.Application, rootPkg.name, {
  version: rootPkg.version ?? '0.0.0',
});
const licenseFactory = new CDX.Contrib.License.Factories.LicenseFactory();
for (const p of packages) {
  const [group, name] = p.name.startsWith('@') ? p.name.split('/') : [undefined, p.name];
  const component = new CDX.Models.Component(CDX.Enums.ComponentType.Library, name, {
    ...(group ? { group } : {}),
    version: p.version,
    bomRef: `pkg:npm/${p.name}@${p.version}`,
    licenses: new CDX.Models.LicenseRepository(
      p.license === 'Unknown' ? [] : [licenseFactory.makeFromString(p.license)],
    ),
  });
  // Package URL (purl-spec, type npm): the scope's @ is percent-encoded.
  component.purl = `pkg:npm/${group ? `${encodeURIComponent(group)}/` : ''}${encodeURIComponent(name)}@${encodeURIComponent(p.version)}`;
  bom.components.add(component);
}
const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6));
mkdirSync(outDir, { recursive: true });
const sbomPath = join(outDir, 'sbom.cdx.json');
writeFileSync(sbomPath, serializer.serialize(bom, { sortLists: true, space: 2 }));
writeFileSync(join(outDir, 'licenses.json'), JSON.stringify(packages, null, 2));

console.log(
  `licences: ${packages.length} production packages; ${excepted.length} by named exception (${[...new Set(excepted.map((p) => p.name))].join(', ') || 'none'})`,
);
console.log(`sbom: CycloneDX 1.6, ${packages.length} components → ${sbomPath}`);
if (refused.length > 0) {
  for (const p of refused) console.error(`licences: NOT ALLOWED ${p.name}@${p.version}: ${p.license}`);
  process.exit(1);
}
