/**
 * Signatures per second per core: viem's own `signTransaction` in this process beside the signer process doing the
 * whole job (frame decode, Ed25519 ticket check, digest, policy, journal append + fdatasync, secp256k1, frame encode).
 * CPU time comes from process.cpuUsage() (viem) and /proc/<pid>/stat (the signer), so "per core" means signatures per
 * CPU-second of the process that signs. Run alone with `pnpm --filter @clawd402/bench bench:signer`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { fromWireTransaction } from '@clawd402/protocol';
import { benchTransfer, ticketedBenchTransfer } from './bench-transfer.ts';
import { SignerClient, TicketIssuer, generateTicketKeyPair, loadTicketPrivateKey } from '@clawd402/signer-client';
import { guardChild } from '@clawd402/testkit';

const TSX = import.meta.resolve('tsx');
const CHILD = new URL('./signer-child.ts', import.meta.url).pathname;
const RECIPIENT = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

export interface SignerBenchRow {
  name: string;
  perSecond: number;
  perCpuSecond: number;
  note: string;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function viemRate(count: number): Promise<SignerBenchRow> {
  const account = privateKeyToAccount(generatePrivateKey());
  const txs = Array.from({ length: count }, (_, i) => fromWireTransaction(benchTransfer(i, RECIPIENT)));
  for (let i = 0; i < 200; i++) await account.signTransaction(txs[i]!); // warm up
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (const t of txs) await account.signTransaction(t);
  const wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    name: 'viem signTransaction, in process',
    perSecond: count / wall,
    perCpuSecond: count / ((used.user + used.system) / 1e6),
    note: 'noble secp256k1, no I/O',
  };
}

async function signerRate(
  count: number,
  fsync: boolean,
  connections: number,
  inFlight: number,
): Promise<SignerBenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'c402b-'));
  const pair = generateTicketKeyPair();
  const child = spawn(process.execPath, ['--import', TSX, CHILD], {
    env: {
      ...process.env,
      BENCH_SOCKET: join(dir, 'run/s.sock'),
      BENCH_GATEWAY_KEY: pair.publicKeyPem,
      BENCH_JOURNAL: join(dir, 'journal.jsonl'),
      BENCH_FSYNC: fsync ? '1' : '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  guardChild(child, 'clawd402-bench-guard'); // a killed bench leaves no signer behind
  try {
    const ready = await new Promise<{ address: `0x${string}`; secp256k1: string }>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`signer exited ${code}`)));
      createInterface({ input: child.stdout }).once('line', (line) =>
        resolve(JSON.parse(line) as { address: `0x${string}`; secp256k1: string }),
      );
    });
    const issuer = new TicketIssuer({
      privateKey: loadTicketPrivateKey(pair.privateKeyPem),
      keyId: 'bench',
      lifetimeSeconds: 60,
    });
    const client = new SignerClient({ socketPath: join(dir, 'run/s.sock'), connections, timeoutMs: 60_000 });
    const warm = 200;
    const jobs = await Promise.all(
      Array.from({ length: count + warm }, (_, i) =>
        ticketedBenchTransfer(issuer, ready.address, `b-${i}`, i, RECIPIENT),
      ),
    );
    for (const job of jobs.slice(0, warm)) await client.signTransaction(job);
    let next = warm;
    const cpu0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < jobs.length) await client.signTransaction(jobs[next++]!);
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(child.pid!) - cpu0;
    await client.close();
    return {
      name: `signer over its socket, ${connections} connection${connections > 1 ? 's' : ''}, ${inFlight} in flight, journal ${fsync ? 'fdatasync' : 'no fsync'}`,
      perSecond: count / wall,
      perCpuSecond: count / Math.max(cpu, 0.01),
      note: `${ready.secp256k1}; signer CPU ${cpu.toFixed(2)} s for ${count}`,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function signerVsViem(count = Number(process.env.BENCH_SIGNATURES ?? 3000)): Promise<SignerBenchRow[]> {
  const rows = [await viemRate(count)];
  rows.push(await signerRate(count, true, 1, 1));
  rows.push(await signerRate(count, true, 4, 64));
  rows.push(await signerRate(count, false, 4, 64));
  return rows;
}

export function printSignerRows(rows: SignerBenchRow[]): void {
  const viem = rows[0]!;
  console.log(
    '\n| signatures | per second (wall) | per CPU-second of the signing process | ÷ viem per CPU-second | note |',
  );
  console.log('|---|---:|---:|---:|---|');
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${row.perSecond.toFixed(0)} | ${row.perCpuSecond.toFixed(0)} | ${(row.perCpuSecond / viem.perCpuSecond).toFixed(2)} | ${row.note} |`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printSignerRows(await signerVsViem());
}
