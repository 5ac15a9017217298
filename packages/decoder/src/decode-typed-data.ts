import { hashTypedData, type Hex } from 'viem';
import type { Effect } from './effect.ts';
import { hasUnlimitedApproval } from './effect.ts';
import type { DecodeFailure } from './decode-call.ts';
import { deepFreeze } from '@clawd402/protocol';
import { withoutUndefined } from './freeze.ts';
import { normalizeTypedData, TypedDataError, type TypedDataDomainView } from './typed-data/normalize-typed-data.ts';
import { recognizeTypedData, type TypedDataKind } from './typed-data/recognize-typed-data.ts';

/** What an EIP-712 signature would authorise. */
export interface DecodedTypedData {
  readonly ok: true;
  /** The recognised payload, or `unknown` (then `effects` is empty, which never means harmless). */
  readonly kind: TypedDataKind;
  readonly domain: TypedDataDomainView;
  readonly primaryType: string;
  /** The EIP-712 digest of the normalised payload: what the signer signs. */
  readonly digest: Hex;
  /** The normalised message (bigints, checksummed addresses), exactly what `digest` covers. */
  readonly message: Readonly<Record<string, unknown>>;
  readonly effects: readonly Effect[];
  readonly flags: { readonly unlimitedApproval: boolean };
}

export type DecodeTypedDataResult = DecodedTypedData | (DecodeFailure & { readonly field?: string });

/**
 * Validate and decode an EIP-712 payload (an object, or the JSON text of `eth_signTypedData_v4`). Recognises EIP-2612
 * and DAI `Permit`, ERC-721 `Permit`, Permit2 `PermitSingle`, `PermitBatch`, `PermitTransferFrom`,
 * `PermitBatchTransferFrom` and their witness variants, and EIP-3009 authorisations. Pure; never throws.
 *
 * The digest is computed from the normalised copy the effects were read from, so what is described is what is
 * signed. Malformed input answers `decode.malformed_typed_data` with the offending `field`.
 */
export function decodeTypedData(typedData: unknown): DecodeTypedDataResult {
  try {
    const data = normalizeTypedData(typedData);
    const digest = hashTypedData({
      domain: data.domain,
      types: data.types as Record<string, { name: string; type: string }[]>,
      primaryType: data.primaryType,
      message: data.message,
    });
    const { kind, effects: drafts } = recognizeTypedData(data);
    const target = data.domain.verifyingContract;
    const effects =
      target === undefined
        ? []
        : drafts.map((d) => withoutUndefined({ ...d, target: d.target ?? target, path: [] }) as Effect);
    return deepFreeze({
      ok: true as const,
      kind,
      domain: data.domain,
      primaryType: data.primaryType,
      digest,
      message: data.message,
      effects,
      flags: { unlimitedApproval: hasUnlimitedApproval(effects) },
    });
  } catch (error) {
    const field = error instanceof TypedDataError ? error.field : undefined;
    const message = error instanceof TypedDataError ? error.message : 'The typed data could not be hashed.';
    return deepFreeze(
      withoutUndefined({ ok: false as const, code: 'decode.malformed_typed_data' as const, message, field }),
    );
  }
}
