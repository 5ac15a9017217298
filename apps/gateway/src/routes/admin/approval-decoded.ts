import { decodeCall, type DecodedCallNode } from '@clawd402/decoder';
import type { DecodedCallView, DecodedView } from '@clawd402/protocol';
import type { IntentRecord } from '../../domain/intent.ts';

const NO_FLAGS = { delegatecall: false, unlimitedApproval: false, truncated: false };

function flatten(node: DecodedCallNode, into: DecodedCallView[]): DecodedCallView[] {
  into.push({
    path: [...node.path],
    operation: node.operation,
    target: node.target,
    functionName: node.functionName ?? null,
    selector: node.selector,
    value: node.value.toString(),
  });
  for (const child of node.children) flatten(child, into);
  return into;
}

/**
 * What a contract call will do, decoded from its calldata by @clawd402/decoder (the same decoder the policy decides
 * with): each effect (transfer, approval and its spender, …) and each call inside a batch. The approvals page shows
 * it so an approver sees what will be signed, not only the raw data. Transfers and signature intents have no calldata
 * to decode (`plain`).
 */
export function decodedView(intent: IntentRecord): DecodedView {
  if (intent.type !== 'contract_call' || !intent.data || intent.data === '0x')
    return { status: 'plain', functionName: null, effects: [], calls: [], flags: NO_FLAGS, error: null };
  const decoded = decodeCall({
    chainId: intent.chainId,
    to: intent.to,
    value: intent.amount,
    data: intent.data,
    ...(intent.from ? { from: intent.from } : {}),
  });
  if (!decoded.ok)
    return {
      status: 'undecodable',
      functionName: null,
      effects: [],
      calls: [],
      flags: NO_FLAGS,
      error: { code: decoded.code, message: decoded.message },
    };
  return {
    status: 'decoded',
    functionName: decoded.functionName ?? null,
    effects: decoded.effects.map((e) => ({
      kind: e.kind,
      asset: e.asset,
      target: e.target,
      from: e.from ?? null,
      recipient: e.recipient ?? null,
      spender: e.spender ?? null,
      amount: e.amount?.toString() ?? null,
      tokenId: e.tokenId?.toString() ?? null,
      unlimited: e.unlimited ?? false,
      path: [...e.path],
    })),
    calls: flatten(decoded.calls, []),
    flags: { ...decoded.flags },
    error: null,
  };
}
