/**
 * What the gateway answers, as far as the CLI shows it (docs/approvals.md, the gateway's OpenAPI at /docs). Only the
 * fields a command prints are typed; the rest passes through to `--json` untouched.
 */

/** An intent as the admin and agent APIs show it. */
export interface IntentView {
  id: string;
  status: string;
  type: string;
  chainId: number;
  from: string;
  to: string | null;
  asset: string;
  amount: string;
  txHash: string | null;
  error: { code: string; message: string } | null;
  decision: { action: string; policy: string | null; reasons: string[] } | null;
  createdAt: string;
}
