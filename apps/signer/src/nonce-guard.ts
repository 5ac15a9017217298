import { SignerError, type NonceMode } from '@clawd402/protocol';
import type { Hex } from 'viem';

/**
 * How many nonces below the highest one signed for a (chain, address) the guard remembers. A transaction that far
 * behind has had this many transactions signed after it; those can only be mined after it is, so a gateway working
 * correctly settled it (mined, replaced or cancelled) long ago — node mempools hold at most a few dozen pending
 * transactions per sender. Below the window a `new` ticket is refused (`nonce_below_window`): the guard no longer
 * knows what was signed there, so it fails closed. Memory: at most this many entries per (chain, address).
 */
export const NONCE_WINDOW = 1024;
/** Digests remembered per nonce (the original and its replacements); a replacement past this forgets the oldest. */
export const MAX_DIGESTS_PER_NONCE = 32;

/** One transaction signature's claim on its nonce, as the journal records it. */
export interface NonceClaim {
  chainId: number;
  /** Lower-cased signing address. */
  address: string;
  nonce: number;
  /** Lower-cased transactionDigest. */
  digest: string;
}

interface AddressNonces {
  /** Nonces below this are outside the window. Only ever rises. */
  floor: number;
  /** nonce → digests signed at it, oldest first. */
  digests: Map<number, string[]>;
}

/**
 * The signer's own record of which transaction it signed at each nonce, per (chain, address): a second wall behind
 * the gateway's nonce allocation. A `new` transaction at a nonce that already carries a different signed transaction
 * is refused (`nonce_already_signed`); the identical transaction again (same digest) is allowed — it adds nothing a
 * node could mine. `replace` and `cancel` tickets are the gateway saying it means to put another transaction at that
 * nonce; they are allowed and recorded.
 *
 * {@link check} and {@link record} run inside the journal's synchronous reserve step, so two concurrent requests for
 * one nonce cannot both pass; the journal makes the record durable before anything is signed.
 */
export class NonceGuard {
  readonly #byAddress = new Map<string, AddressNonces>();
  readonly #window: number;

  constructor(window = NONCE_WINDOW) {
    this.#window = window;
  }

  /** Throw if a `mode` ticket may not sign `claim` now. Records nothing. */
  check(claim: NonceClaim, mode: NonceMode): void {
    if (mode !== 'new') return;
    const entry = this.#byAddress.get(pairKey(claim));
    if (!entry) return;
    if (claim.nonce < entry.floor) throw new SignerError('nonce_below_window');
    const known = entry.digests.get(claim.nonce);
    if (known && !known.includes(claim.digest)) throw new SignerError('nonce_already_signed');
  }

  /** Record a signature at the nonce; true if its digest was not already known there (so {@link forget} undoes it). */
  record(claim: NonceClaim): boolean {
    const key = pairKey(claim);
    let entry = this.#byAddress.get(key);
    if (!entry) this.#byAddress.set(key, (entry = { floor: 0, digests: new Map() }));
    const list = entry.digests.get(claim.nonce) ?? [];
    if (list.includes(claim.digest)) return false;
    list.push(claim.digest);
    if (list.length > MAX_DIGESTS_PER_NONCE) list.shift();
    entry.digests.set(claim.nonce, list);
    const floor = claim.nonce - this.#window;
    if (floor > entry.floor) {
      entry.floor = floor;
      for (const nonce of entry.digests.keys()) if (nonce < floor) entry.digests.delete(nonce);
    }
    return true;
  }

  /** Undo a {@link record} whose signature was not made (a device declined). The floor stays where it is. */
  forget(claim: NonceClaim): void {
    const entry = this.#byAddress.get(pairKey(claim));
    const list = entry?.digests.get(claim.nonce);
    if (!entry || !list) return;
    const rest = list.filter((d) => d !== claim.digest);
    if (rest.length === 0) entry.digests.delete(claim.nonce);
    else entry.digests.set(claim.nonce, rest);
  }

  /** Digests signed at a nonce (tests, inspection). */
  signedAt(chainId: number, address: string, nonce: number): readonly Hex[] {
    return (this.#byAddress.get(`${chainId}:${address.toLowerCase()}`)?.digests.get(nonce) ?? []) as Hex[];
  }

  /** Entries held, over every address (the memory bound). */
  get size(): number {
    let n = 0;
    for (const entry of this.#byAddress.values()) n += entry.digests.size;
    return n;
  }

  /** The live state, for the journal's compaction snapshot. */
  snapshot(): Record<string, { floor: number; nonces: [number, string[]][] }> {
    const out: Record<string, { floor: number; nonces: [number, string[]][] }> = {};
    for (const [key, entry] of this.#byAddress) out[key] = { floor: entry.floor, nonces: [...entry.digests] };
    return out;
  }

  /** Load a snapshot written by {@link snapshot}; false if it is not well-formed. */
  restore(value: unknown): boolean {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
    for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
      const e = raw as { floor?: unknown; nonces?: unknown } | null;
      if (
        !/^[0-9]+:0x[0-9a-f]{40}$/.test(key) ||
        e === null ||
        typeof e !== 'object' ||
        !Number.isSafeInteger(e.floor) ||
        !Array.isArray(e.nonces)
      )
        return false;
      const digests = new Map<number, string[]>();
      for (const pair of e.nonces as unknown[]) {
        if (
          !Array.isArray(pair) ||
          !Number.isSafeInteger(pair[0]) ||
          !Array.isArray(pair[1]) ||
          !pair[1].every(isDigest)
        )
          return false;
        digests.set(pair[0] as number, [...pair[1]]);
      }
      this.#byAddress.set(key, { floor: e.floor as number, digests });
    }
    return true;
  }
}

/** Parse the nonce fields of a journal line (`nc`, `na`, `ni`, `nd`); undefined if absent or off-shape. */
export function parseNonceClaim(e: Record<string, unknown>): NonceClaim | undefined {
  const { nc, na, ni, nd } = e;
  if (!Number.isSafeInteger(nc) || (nc as number) < 1 || typeof na !== 'string' || !/^0x[0-9a-f]{40}$/.test(na))
    return undefined;
  if (!Number.isSafeInteger(ni) || (ni as number) < 0 || !isDigest(nd)) return undefined;
  return { chainId: nc as number, address: na, nonce: ni as number, digest: nd };
}

/** The journal-line fields of a claim. */
export function nonceFields(claim: NonceClaim): { nc: number; na: string; ni: number; nd: string } {
  return { nc: claim.chainId, na: claim.address, ni: claim.nonce, nd: claim.digest };
}

function pairKey(claim: Pick<NonceClaim, 'chainId' | 'address'>): string {
  return `${claim.chainId}:${claim.address}`;
}

function isDigest(value: unknown): value is string {
  return typeof value === 'string' && /^0x[0-9a-f]{64}$/.test(value);
}
