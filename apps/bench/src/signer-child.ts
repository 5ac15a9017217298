// A signer process for the signer benchmark: a fresh in-memory key generated here (it never leaves this process),
// the journal fsync'ed or not (BENCH_FSYNC), one JSON ready line on stdout.
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { secp256k1Implementation, startSigner } from '@clawd402/signer';

const [socketPath, publicKeyPem, journalFile] = [
  process.env.BENCH_SOCKET!,
  process.env.BENCH_GATEWAY_KEY!,
  process.env.BENCH_JOURNAL!,
];
const key = generatePrivateKey();
const signer = await startSigner({
  socketPath,
  privateKeys: [key],
  gatewayPublicKeys: [publicKeyPem],
  chains: [31337],
  journalFile,
  journalFsync: process.env.BENCH_FSYNC !== '0',
});
process.stdout.write(
  `${JSON.stringify({ ready: true, address: privateKeyToAccount(key).address, secp256k1: secp256k1Implementation() })}\n`,
);
process.on('SIGTERM', () => void signer.close().then(() => process.exit(0)));
