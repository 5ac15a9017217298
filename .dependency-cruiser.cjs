// dependency-cruiser: the import rules that keep the layers pointing one way (docs/architecture.md explains each).
// `pnpm lint` runs `depcruise apps packages tools scripts`; every rule is an error. Type-only imports count: a layer
// that needs another layer's types still depends on it. Paths are relative to the repository root.

// fastify and its ecosystem, whether resolved into node_modules (pnpm's .pnpm store included) or left unresolved
// because the importing package does not even declare it.
const FASTIFY = '(^|/node_modules/)(fastify|fastify-plugin|@fastify/[^/]+)(/|$)';
const GW = '^apps/gateway/src/';
// Loaded on first use by the gateway (resolved into node_modules, or unresolved).
const LAZY = '(^|/node_modules/)(@modelcontextprotocol/sdk|nodemailer|@fastify/swagger|@fastify/swagger-ui)(/|$)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles anywhere: a cycle makes load order matter and the two modules one unit in disguise.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'packages-not-to-apps',
      severity: 'error',
      comment: 'packages/* are libraries the apps build on; they never reach back into an app.',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'packages-not-to-fastify',
      severity: 'error',
      comment:
        'packages/* know no HTTP framework (protocol, policy, decoder are used by the signer and the bench too).',
      from: { path: '^packages/' },
      to: { path: FASTIFY },
    },
    {
      name: 'signer-not-to-gateway',
      severity: 'error',
      comment: 'The signer is the isolated key holder: it shares packages with the gateway, never gateway code.',
      from: { path: '^apps/signer/' },
      to: { path: '^apps/gateway/' },
    },
    {
      name: 'gateway-domain-is-a-leaf',
      severity: 'error',
      comment:
        'domain/ holds plain types and pure helpers that every layer imports; it imports only lib/ and packages.',
      from: { path: `${GW}domain/` },
      to: { path: GW, pathNot: `${GW}(domain|lib)/` },
    },
    {
      name: 'gateway-repositories-import-down',
      severity: 'error',
      comment:
        'Repositories hold the SQL; they import only domain/, db/, lib/, each other and packages, never a service.',
      from: { path: `${GW}repositories/` },
      to: { path: GW, pathNot: `${GW}(domain|db|lib|repositories)/` },
    },
    {
      name: 'gateway-http-not-to-data',
      severity: 'error',
      comment: 'routes/ and plugins/ call services; they never reach repositories/ or db/ (no SQL, no transactions).',
      from: { path: `${GW}(routes|plugins)/` },
      to: { path: `${GW}(repositories|db)/` },
    },
    {
      name: 'gateway-fastify-only-in-http',
      severity: 'error',
      comment:
        'Only the HTTP edge (routes/, plugins/, app.ts, server.ts, index.ts, dev/, metrics.ts) imports fastify; ' +
        'below it, code takes a Logger and plain values so services run the same from a worker, a CLI or a test.',
      from: {
        path: GW,
        pathNot: `${GW}(routes/|plugins/|dev/|app\\.ts$|server\\.ts$|index\\.ts$|metrics\\.ts$)`,
      },
      to: { path: FASTIFY },
    },
    {
      name: 'gateway-routes-only-from-app',
      severity: 'error',
      comment:
        'Routes are the top of the stack: only app.ts registers them (and a route file may import its siblings).',
      from: { path: GW, pathNot: `${GW}(app\\.ts$|routes/)` },
      to: { path: `${GW}routes/` },
    },
    {
      name: 'gateway-optional-modules-load-lazily',
      severity: 'error',
      comment:
        'The MCP SDK (with zod) and nodemailer are loaded by the first request that needs them (`await import()`), ' +
        'so a gateway without MCP clients or email channels does not hold them (docs/benchmarks.md); the OpenAPI ' +
        'plugins only outside production. Types may be imported.',
      from: { path: GW },
      to: { path: LAZY, dynamic: false, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Build output and state of this repository; never a package's own dist/ inside node_modules, or imports of
    // @fastify/* or the MCP SDK (which resolve there) would drop out of the rules unseen.
    exclude: { path: '^(apps|packages)/[^/]+/(dist|artifacts|\\.clawd402|\\.turbo)/|^(\\.clawd402|\\.turbo)/' },
    // Count `import type` too: it is still a dependency of one layer on another.
    tsPreCompilationDeps: true,
    // No tsconfig is needed (there are no path aliases). Imports carry their .ts extension; workspace packages resolve
    // through their package.json "exports" (which point at src/*.ts) and pnpm's symlinks, so @clawd402/policy lands on
    // packages/policy/src/index.ts and a cycle through a package is still seen as one.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['module', 'main', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    moduleSystems: ['es6', 'cjs'],
    skipAnalysisNotInRules: true,
  },
};
