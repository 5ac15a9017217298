#!/usr/bin/env node
// Generate every secret file docker-compose.yml names, under deploy/compose/secrets/ (or --dir), each 0400 and owned
// by the uid that reads it (10402 for the gateway and signer, 999 for Postgres and Redis) when run as root.
// Existing files are kept, so running it again never rotates a key by accident.
//   node deploy/compose/make-secrets.mjs --rpc 1=https://…,8453=https://… [--dir DIR] [--postgres-host postgres]
//        [--postgres-port 5432] [--redis-host redis] [--redis-port 6379]
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: new URL('./secrets/', import.meta.url).pathname },
    rpc: { type: 'string' },
    'postgres-host': { type: 'string', default: 'postgres' },
    'postgres-port': { type: 'string', default: '5432' },
    'redis-host': { type: 'string', default: 'redis' },
    'redis-port': { type: 'string', default: '6379' },
  },
});
if (!values.rpc) {
  console.error('make-secrets: --rpc CHAIN_ID=URL[,CHAIN_ID=URL…] is required (the chains the gateway serves)');
  process.exit(2);
}
const APP_UID = 10402;
const DATA_UID = 999;
mkdirSync(values.dir, { recursive: true, mode: 0o700 });
const hex = (n) => randomBytes(n).toString('hex');
const postgresPassword = hex(24);
const redisPassword = hex(24);

function secret(name, uid, make) {
  const path = join(values.dir, name);
  if (existsSync(path)) return;
  writeFileSync(path, make(), { mode: 0o400 });
  if (process.getuid?.() === 0) chownSync(path, uid, uid);
}
const ticket = generateKeyPairSync('ed25519');
secret('ticket_private_key.pem', APP_UID, () => ticket.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
secret('ticket_public_key.pem', APP_UID, () => ticket.publicKey.export({ type: 'spki', format: 'pem' }).toString());
secret('jwt_private_key.pem', APP_UID, () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
);
secret('secrets_key', APP_UID, () => `${hex(32)}\n`);
secret('signer_password', APP_UID, () => `${hex(32)}\n`);
secret('chain_rpc_urls', APP_UID, () => `${values.rpc}\n`);
// Each password is written together with the URL that carries it; half a pair would never connect.
for (const [a, b] of [
  ['postgres_password', 'database_url'],
  ['redis.conf', 'redis_url'],
]) {
  if (existsSync(join(values.dir, a)) !== existsSync(join(values.dir, b))) {
    console.error(`make-secrets: ${a} and ${b} belong together; remove the one that is left and run again`);
    process.exit(1);
  }
}
secret('postgres_password', DATA_UID, () => `${postgresPassword}\n`);
secret(
  'database_url',
  APP_UID,
  () => `postgres://clawd402:${postgresPassword}@${values['postgres-host']}:${values['postgres-port']}/clawd402\n`,
);
secret(
  'redis.conf',
  DATA_UID,
  () => `port ${values['redis-port']}\nrequirepass ${redisPassword}\nappendonly yes\ndir /data\n`,
);
secret('redis_url', APP_UID, () => `redis://:${redisPassword}@${values['redis-host']}:${values['redis-port']}\n`);
console.log(`make-secrets: ${values.dir}`);
