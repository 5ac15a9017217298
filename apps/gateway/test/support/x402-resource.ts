// The x402 side of the tests, with the REAL reference packages from npm, unmodified: a resource server built with
// @x402/hono (x402ResourceServer + the `exact` EVM server scheme) and a local facilitator built from @x402/core's
// x402Facilitator and @x402/evm's `exact` facilitator scheme, both pointed at the stack's anvil and an EIP-3009 token
// compiled with solc (packages/testkit/contracts/Eip3009Token.sol). Used by x402-*.int.test.ts and the MCP bridge's
// fetch_paid test.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { x402Facilitator } from '@x402/core/facilitator';
import { x402ResourceServer, paymentMiddleware } from '@x402/hono';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { ExactEvmScheme as ExactEvmFacilitatorScheme } from '@x402/evm/exact/facilitator';
import { ExactEvmScheme as ExactEvmServerScheme } from '@x402/evm/exact/server';
import { createWalletClient, defineChain, erc20Abi, getContractAddress, http, publicActions, type Address } from 'viem';
import { nonceManager, privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS, deployEip3009Token } from '@clawd402/testkit';
import { upsertAsset } from '../../src/repositories/assets-repository.ts';
import { RECIPIENTS, type Stack } from './stack.ts';

/** Anvil's dev account 9 deploys the token: its first contract's address is known before the gateway starts. */
const DEPLOYER = ANVIL_ACCOUNTS[9];
export const X402_TOKEN = getContractAddress({ from: DEPLOYER.address, nonce: 0n });
/** Anvil's dev account 8 runs the facilitator (it pays the gas of settlement). */
const FACILITATOR = ANVIL_ACCOUNTS[8];
/** Who resources are paid to (dev account 6), and another payee a hostile 402 names (dev account 7). */
export const X402_PAYEE = RECIPIENTS[5]!;
export const X402_OTHER_PAYEE = RECIPIENTS[6]!;
export const X402_NETWORK = 'eip155:31337' as const;
/** 0.01 USDC (6 decimals) at the static price of 1 USD. */
export const X402_PRICE = '10000';

/** Gateway environment that lets the stack pay in the test token (give it to startStack). */
export const X402_STACK_ENV: Readonly<Record<string, string>> = Object.freeze({
  X402_ASSETS: `31337=${X402_TOKEN}`,
  X402_MAX_PAYMENT_USD: '1',
  X402_MAX_VALIDITY_SECONDS: '600',
});

/**
 * A policy paying x402 resources on 127.0.0.1 up to `maxPaymentUsd` a request, then `otherRules` (YAML list items),
 * then a final deny, so it is lint-clean and can be activated again through the admin API.
 */
export function x402Policy(maxPaymentUsd = '0.05', otherRules = ''): string {
  return `
policies:
  - name: paid_api_cents
    conditions:
      transaction_type: x402_payment
      x402_host: "127.0.0.1"
      x402_payee: [listed, pinned, new]
      max_value_usd: "${maxPaymentUsd}"
    action: auto_approve
${otherRules}
  - name: deny_rest
    conditions: {}
    action: reject
`;
}

/** One paid route of the resource server: `GET <path>` answers `{ datum: 42, path }` once paid. */
export interface X402Route {
  path: string;
  description: string;
  payTo?: Address;
  /** Base units of the token (default X402_PRICE). */
  amount?: string;
  /** The validity the 402 asks for (default 300 s). */
  maxTimeoutSeconds?: number;
}

export interface X402Resource {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** How many requests the routes' handlers served (a paid request reaches its handler, an unpaid one does not). */
  served(): number;
  /** The requirements a route's 402 names (decoded from its PAYMENT-REQUIRED header). */
  requirementsOf(path: string): Promise<Record<string, unknown>>;
  balanceOf(who: Address): Promise<bigint>;
  stop(): Promise<void>;
}

/**
 * Deploy the token, price it at 1 USD in the asset registry, fund the stack's signer with 100 tokens, and start the
 * reference facilitator and resource server with `routes`. The stack must have been started with X402_STACK_ENV.
 */
export async function startX402Resource(stack: Stack, routes: readonly X402Route[]): Promise<X402Resource> {
  const deployed = await deployEip3009Token({
    rpcUrl: stack.anvil.rpcUrl,
    deployerKey: DEPLOYER.privateKey,
    name: 'USD Coin',
    symbol: 'USDC',
    version: '2',
    supply: 1_000_000n * 10n ** 6n,
  });
  if (deployed !== X402_TOKEN) throw new Error(`the test token deployed at ${deployed}, not ${X402_TOKEN}`);
  await upsertAsset(
    stack.pool,
    {
      chainId: 31337,
      asset: X402_TOKEN,
      symbol: 'USDC',
      decimals: 6,
      priceSource: { kind: 'static', usd: '1', maxAgeSeconds: null },
    },
    'system:test',
  );
  const chain = defineChain({
    id: 31337,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [stack.anvil.rpcUrl] } },
  });
  const deployer = createWalletClient({ account: privateKeyToAccount(DEPLOYER.privateKey), chain, transport: http() });
  const funded = await deployer.writeContract({
    address: X402_TOKEN,
    abi: erc20Abi,
    functionName: 'transfer',
    args: [stack.signerAddress, 100n * 10n ** 6n],
  });
  await stack.chain.waitForTransactionReceipt({ hash: funded });

  // The local facilitator: the reference x402Facilitator with the reference `exact` EVM scheme, settling on anvil.
  const facilitatorWallet = createWalletClient({
    account: privateKeyToAccount(FACILITATOR.privateKey, { nonceManager }),
    chain,
    transport: http(),
    pollingInterval: 100,
  }).extend(publicActions);
  const evmSigner = toFacilitatorEvmSigner(
    Object.assign(facilitatorWallet, { address: FACILITATOR.address }) as unknown as Parameters<
      typeof toFacilitatorEvmSigner
    >[0],
    { confirmationTimeoutMs: 60_000 },
  );
  const facilitator = new x402Facilitator().register(X402_NETWORK, new ExactEvmFacilitatorScheme(evmSigner));
  const facilitatorClient = {
    verify: (payload: never, requirements: never) => facilitator.verify(payload, requirements),
    settle: (payload: never, requirements: never) => facilitator.settle(payload, requirements),
    getSupported: async () => facilitator.getSupported(),
  };

  // The resource server: @x402/hono's paymentMiddleware with the reference server scheme.
  const resourceServer = new x402ResourceServer(facilitatorClient as never).register(
    X402_NETWORK,
    new ExactEvmServerScheme(),
  );
  const app = new Hono();
  app.use(
    paymentMiddleware(
      Object.fromEntries(
        routes.map((r) => [
          `GET ${r.path}`,
          {
            accepts: {
              scheme: 'exact',
              network: X402_NETWORK,
              payTo: r.payTo ?? X402_PAYEE,
              price: { amount: r.amount ?? X402_PRICE, asset: X402_TOKEN, extra: { name: 'USD Coin', version: '2' } },
              maxTimeoutSeconds: r.maxTimeoutSeconds ?? 300,
            },
            description: r.description,
          },
        ]),
      ),
      resourceServer as never,
    ),
  );
  let served = 0;
  for (const { path } of routes) {
    app.get(path, (c) => {
      served += 1;
      return c.json({ datum: 42, path });
    });
  }
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    served: () => served,
    requirementsOf: async (path) => {
      const required = await fetch(`${url}${path}`);
      const header = required.headers.get('payment-required');
      if (required.status !== 402 || header === null) throw new Error(`${path} did not answer a 402`);
      const decoded = JSON.parse(Buffer.from(header, 'base64').toString()) as { accepts: Record<string, unknown>[] };
      return decoded.accepts[0]!;
    },
    balanceOf: (who) =>
      stack.chain.readContract({ address: X402_TOKEN, abi: erc20Abi, functionName: 'balanceOf', args: [who] }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
