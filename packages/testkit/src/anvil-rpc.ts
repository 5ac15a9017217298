/**
 * One raw JSON-RPC call to an anvil, for the methods viem has no type for (evm_setAutomine, evm_mine,
 * anvil_dropTransaction, …); throws with the method's name when the node answers an error.
 *
 * @example
 * ```ts
 * await anvilRpc(anvil.rpcUrl, 'evm_setAutomine', [false]);
 * ```
 */
export async function anvilRpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}
