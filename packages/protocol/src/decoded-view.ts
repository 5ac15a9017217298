/**
 * What an approval shows of a contract call's calldata, decoded (GET /admin/approvals/:id `decoded`, docs/approvals.md):
 * the gateway fills it from @clawd402/decoder, the console renders it. Amounts are base units as decimal strings.
 */

/** One effect of the call tree: a transfer, an approval and its spender, a native transfer, a call. */
export interface DecodedEffectView {
  kind: string;
  asset: string;
  target: string;
  from: string | null;
  recipient: string | null;
  spender: string | null;
  amount: string | null;
  tokenId: string | null;
  unlimited: boolean;
  path: number[];
}

/** One call of the decoded tree, flattened in call order (`path` says where it sits). */
export interface DecodedCallView {
  path: number[];
  operation: string;
  target: string;
  functionName: string | null;
  selector: string | null;
  value: string;
}

export interface DecodedView {
  /** `decoded`: calldata decoded; `plain`: a transfer or call without calldata; `undecodable`: the decoder refused. */
  status: 'decoded' | 'plain' | 'undecodable';
  functionName: string | null;
  effects: DecodedEffectView[];
  calls: DecodedCallView[];
  flags: { delegatecall: boolean; unlimitedApproval: boolean; truncated: boolean };
  /** The decoder's refusal, when `undecodable`. */
  error: { code: string; message: string } | null;
}
