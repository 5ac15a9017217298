// The image's one entry point: `docker run IMAGE <command> [args]`. Runs the compiled JavaScript under /app (selected
// by the `clawd402-dist` export condition the ENTRYPOINT passes to node) in this same process, so signals reach it.
//   gateway                 the HTTP gateway (apps/gateway/dist/server.js), configured from the environment
//   migrate                 apply pending migrations and exit (a release step; gateways then run MIGRATE_ON_START=false)
//   audit-verify            walk the audit hash chain (exit 0 verified, 1 broken, 2 unreadable)
//   signer <verb> [args]    the signer CLI: `signer serve …`, `signer keys generate …`, `signer keys list …`
//   healthcheck [signer]    probe GET /health on this container's gateway (HEALTH_URL, or http://127.0.0.1:$PORT),
//                           or with `signer`, that the signer accepts a connection on SIGNER_SOCKET; exit 0 or 1
// Plain JavaScript on purpose: it is the one file that runs before anything is resolved.
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';

const ROOT = '/app';
const COMMANDS = {
  gateway: `${ROOT}/apps/gateway/dist/server.js`,
  migrate: `${ROOT}/apps/gateway/dist/cli/migrate.js`,
  'audit-verify': `${ROOT}/apps/gateway/dist/cli/audit-verify.js`,
  signer: `${ROOT}/apps/signer/dist/cli.js`,
};
const USAGE = `usage: <${[...Object.keys(COMMANDS), 'healthcheck'].join('|')}> [args]`;

const [command, ...args] = process.argv.slice(2);

if (command === 'healthcheck') {
  process.exit((await (args[0] === 'signer' ? signerAnswers() : gatewayHealthy())) ? 0 : 1);
}
const target = command === undefined ? undefined : COMMANDS[command];
if (target === undefined) {
  process.stderr.write(
    `clawd402: ${command === undefined ? 'no command' : `unknown command "${command}"`}\n${USAGE}\n`,
  );
  process.exit(2);
}
// The modules check `import.meta.url === file://${process.argv[1]}` (or read argv[2…]) exactly as when run directly.
process.argv = [process.argv[0], target, ...args];
await import(pathToFileURL(target).href);

async function gatewayHealthy() {
  const url = process.env.HEALTH_URL ?? `http://127.0.0.1:${process.env.PORT ?? '8402'}/health`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_500) });
    const body = await response.json();
    return response.status === 200 && body.status === 'ok';
  } catch {
    return false;
  }
}

function signerAnswers() {
  const path = process.env.SIGNER_SOCKET;
  if (!path) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (ok) => (socket.destroy(), resolve(ok));
    socket.setTimeout(2_500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
