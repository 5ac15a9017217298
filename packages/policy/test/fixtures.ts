import type { Address } from 'viem';
import type { AvailableFacts, IntentFacts } from '../src/index.ts';

/** Anvil's well-known accounts 0–9 (checksummed). */
export const ANVIL: readonly Address[] = [
  '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
  '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
  '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
  '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65',
  '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc',
  '0x976EA74026E726554dB657fA54763abd0C3a0aa9',
  '0x14dC79964da2C08b23698B3D3cc7Ca32193d9955',
  '0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f',
  '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720',
];
export const ALICE = ANVIL[1]!;
export const BOB = ANVIL[2]!;
export const CAROL = ANVIL[3]!;
export const USDC: Address = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';
export const DAI: Address = '0x6B175474E89094C44Da98b954EedeAC495271d0F';
export const ETH = 10n ** 18n;

/** A native 0.1 ETH transfer to ALICE on anvil, with overrides. */
export function facts(overrides: Partial<IntentFacts> = {}): IntentFacts {
  return {
    type: 'transfer',
    chainId: 31337,
    recipient: ALICE,
    asset: 'native',
    amount: ETH / 10n,
    decimals: 18,
    ...overrides,
  };
}

/** Facts with some removed, as a future intent kind would hand them over. */
export function factsWithout(...missing: (keyof IntentFacts)[]): AvailableFacts {
  const out: Record<string, unknown> = { ...facts() };
  for (const key of missing) delete out[key];
  return out;
}

/** A one-rule set (plus nothing else: no match falls to the implicit deny) as YAML. */
export function oneRule(conditions: string, action = 'auto_approve'): string {
  return `policies:\n  - name: r\n    conditions: ${conditions}\n    action: ${action}\n`;
}

/** 1 USD in micro-USD. */
export const USD = 1_000_000n;

/** Spend before the intent: `day` and `hour` in whole USD, with counts. */
export function spend(day: bigint, hour = 0n, dayCount = 0, hourCount = 0): NonNullable<IntentFacts['spend']> {
  return { dayUsd: day * USD, hourUsd: hour * USD, dayCount, hourCount };
}

/** A transfer worth `usd` whole USD (priced, status ok) with the given spend before it. */
export function usdFacts(usd: bigint, before = spend(0n), overrides: Partial<IntentFacts> = {}): IntentFacts {
  return facts({ valueUsd: usd * USD, priceStatus: 'ok', spend: before, ...overrides });
}
