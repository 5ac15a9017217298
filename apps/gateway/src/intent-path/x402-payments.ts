import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { getAddress, isAddress, zeroAddress, type Address } from 'viem';
import type { X402PayeeStatus } from '@clawd402/policy';
import {
  Clawd402Error,
  MAX_X402_REQUIREMENTS_CHARS,
  MAX_X402_RESOURCE_CHARS,
  x402NetworkChainId,
  type WireTypedData,
  type X402PaymentIntentBody,
} from '@clawd402/protocol';
import type { X402Record } from '../domain/intent.ts';
import { pinPayee } from '../repositories/x402-repository.ts';

/** X402_ASSETS, X402_PAYEES, X402_MAX_VALIDITY_SECONDS, X402_MAX_PAYMENT_USD (docs/x402.md). */
export interface X402Settings {
  /** The tokens x402 payments may be made in, per chain (EIP-3009 tokens such as USDC). */
  readonly assets: ReadonlyMap<number, readonly Address[]>;
  /** Payees the operator lists per host (lowercase host): only they are paid for that host. */
  readonly payees: ReadonlyMap<string, readonly Address[]>;
  /** The longest validity window signed (`maxTimeoutSeconds` above it is refused). */
  readonly maxValiditySeconds: number;
  /** The most one payment may be worth, in micro-USD. */
  readonly maxPaymentUsdMicros: bigint;
}

/** How far back `validAfter` is set, so that a clock a little ahead of the chain's does not make it not-yet-valid. */
const VALID_AFTER_SKEW_SECONDS = 60;

/** A payment requirement after strict validation: what is paid, to whom, for what, and how it is pinned. */
export interface X402Payment {
  readonly record: X402Record;
  readonly typedData: WireTypedData;
  readonly payeeStatus: X402PayeeStatus;
}

const malformed = (field: string, message: string): Clawd402Error =>
  new Clawd402Error('x402_requirements_malformed', message, { details: { field } });

/**
 * Validate one x402 payment requirement and build the EIP-3009 `TransferWithAuthorization` the signer will sign, each
 * hostile shape refused with its own code before anything is recorded or signed: malformed or oversized requirements,
 * a scheme other than `exact`, another network than the intent's chain, an asset not configured for x402, a
 * validity window longer than the gateway signs, a payee other than the one listed or pinned for the host. The
 * amount's cap (`x402_amount_above_cap`) is checked once it is valued ({@link assertWithinCap}).
 */
export async function planX402Payment(
  deps: { pool: pg.Pool; x402: X402Settings },
  body: X402PaymentIntentBody,
  from: Address,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<X402Payment> {
  const { x402 } = deps;
  if (body.resource.length > MAX_X402_RESOURCE_CHARS) {
    throw new Clawd402Error('x402_requirements_too_large', undefined, {
      details: { field: 'resource', maxLength: MAX_X402_RESOURCE_CHARS },
    });
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(body.requirements);
  } catch {
    json = undefined;
  }
  if (json !== undefined && json.length > MAX_X402_REQUIREMENTS_CHARS) {
    throw new Clawd402Error('x402_requirements_too_large', undefined, {
      details: { field: 'requirements', maxLength: MAX_X402_REQUIREMENTS_CHARS },
    });
  }
  let url: URL;
  try {
    url = new URL(body.resource);
  } catch {
    throw malformed('resource', 'resource is not an absolute URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw malformed('resource', 'resource must be http(s).');
  if (url.username !== '' || url.password !== '') throw malformed('resource', 'resource must not carry credentials.');
  const host = url.hostname.toLowerCase();

  const req = body.requirements;
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    throw malformed('requirements', 'requirements must be one payment requirement (an object).');
  }
  const r = req as Record<string, unknown>;
  const version = body.x402Version ?? 2;
  if (typeof r.scheme !== 'string') throw malformed('requirements.scheme', 'requirements.scheme must be a string.');
  if (r.scheme !== 'exact') {
    throw new Clawd402Error('x402_scheme_unsupported', undefined, { details: { scheme: r.scheme.slice(0, 64) } });
  }
  const network = r.network;
  if (typeof network !== 'string' || network.length > 64) {
    throw malformed('requirements.network', 'requirements.network must be a network name.');
  }
  const networkChain = x402NetworkChainId(network);
  if (networkChain !== body.chainId) {
    throw new Clawd402Error('x402_network_mismatch', undefined, {
      details: { network, chainId: body.chainId },
    });
  }
  const asset = addressField(r.asset, 'requirements.asset');
  if (!(x402.assets.get(body.chainId) ?? []).includes(asset)) {
    throw new Clawd402Error('x402_asset_not_configured', undefined, { details: { asset, chainId: body.chainId } });
  }
  const amountField = version === 1 ? 'maxAmountRequired' : 'amount';
  const rawAmount = r[amountField];
  if (typeof rawAmount !== 'string' || !/^[1-9][0-9]{0,77}$/.test(rawAmount)) {
    throw malformed(`requirements.${amountField}`, `requirements.${amountField} must be a positive integer string.`);
  }
  const amount = BigInt(rawAmount);
  if (amount >= 2n ** 256n) throw malformed(`requirements.${amountField}`, 'The amount does not fit in 256 bits.');
  const payee = addressField(r.payTo, 'requirements.payTo');
  if (payee === zeroAddress) throw malformed('requirements.payTo', 'requirements.payTo is the zero address.');
  const timeout = r.maxTimeoutSeconds;
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout < 1) {
    throw malformed('requirements.maxTimeoutSeconds', 'requirements.maxTimeoutSeconds must be a positive integer.');
  }
  if (timeout > x402.maxValiditySeconds) {
    throw new Clawd402Error('x402_validity_too_long', undefined, {
      details: { maxTimeoutSeconds: timeout, maxValiditySeconds: x402.maxValiditySeconds },
    });
  }
  const extra = r.extra as Record<string, unknown> | undefined;
  const name = extra?.name;
  const tokenVersion = extra?.version;
  if (typeof name !== 'string' || name.length === 0 || name.length > 100) {
    throw malformed('requirements.extra.name', "requirements.extra.name must be the token's EIP-712 domain name.");
  }
  if (typeof tokenVersion !== 'string' || tokenVersion.length === 0 || tokenVersion.length > 20) {
    throw malformed('requirements.extra.version', "requirements.extra.version must be the token's EIP-712 version.");
  }

  // Payee pinning, before anything is recorded or signed: a listed host pays only its listed payees; any other host
  // pays only the payee first seen for it (the first request pins it).
  let payeeStatus: X402PayeeStatus;
  const listed = x402.payees.get(host);
  if (listed) {
    if (!listed.includes(payee)) {
      throw new Clawd402Error('x402_payee_not_listed', undefined, { details: { host, payee } });
    }
    payeeStatus = 'listed';
  } else {
    const pin = await pinPayee(deps.pool, host, payee);
    if (pin.payee !== payee) {
      throw new Clawd402Error('x402_payee_changed', undefined, { details: { host, payee, pinned: pin.payee } });
    }
    payeeStatus = pin.created ? 'new' : 'pinned';
  }

  const validAfter = BigInt(nowSeconds - VALID_AFTER_SKEW_SECONDS);
  const validBefore = BigInt(nowSeconds + timeout);
  const nonce = `0x${randomBytes(32).toString('hex')}`;
  const authorization = {
    from,
    to: payee,
    value: amount.toString(),
    validAfter: validAfter.toString(),
    validBefore: validBefore.toString(),
    nonce,
  };
  const typedData: WireTypedData = {
    domain: { name, version: tokenVersion, chainId: body.chainId, verifyingContract: asset },
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'version', type: 'string' },
        { name: 'chainId', type: 'uint256' },
        { name: 'verifyingContract', type: 'address' },
      ],
      TransferWithAuthorization: [
        { name: 'from', type: 'address' },
        { name: 'to', type: 'address' },
        { name: 'value', type: 'uint256' },
        { name: 'validAfter', type: 'uint256' },
        { name: 'validBefore', type: 'uint256' },
        { name: 'nonce', type: 'bytes32' },
      ],
    },
    primaryType: 'TransferWithAuthorization',
    message: { ...authorization },
  };
  return {
    typedData,
    payeeStatus,
    record: {
      resource: url.href,
      host,
      x402Version: version,
      network,
      payee,
      asset,
      amount: amount.toString(),
      authorization,
    },
  };
}

/** The gateway's own cap on one payment (X402_MAX_PAYMENT_USD): above it, or not valued, nothing is signed. */
export function assertWithinCap(
  x402: Pick<X402Settings, 'maxPaymentUsdMicros'>,
  value: { status: string; usd?: bigint },
): void {
  if (value.status !== 'ok' || value.usd === undefined || value.usd > x402.maxPaymentUsdMicros) {
    throw new Clawd402Error('x402_amount_above_cap', undefined, {
      details: {
        ...(value.usd !== undefined ? { valueUsdMicros: value.usd.toString() } : { priceStatus: value.status }),
        maxPaymentUsdMicros: x402.maxPaymentUsdMicros.toString(),
      },
    });
  }
}

function addressField(value: unknown, field: string): Address {
  if (typeof value !== 'string' || !isAddress(value, { strict: false })) {
    throw malformed(field, `${field} must be a 20-byte hex address.`);
  }
  return getAddress(value);
}
