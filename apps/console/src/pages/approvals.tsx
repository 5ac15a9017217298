import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import {
  Reasons,
  BackLink,
  Badge,
  Choice,
  ErrorBox,
  Facts,
  Field,
  Link,
  ListTable,
  Mono,
  Notice,
  Table,
  TimeLeft,
  Title,
  useAction,
  useApi,
  usd,
  when,
  type Submit,
} from '../ui.tsx';
import type { ApprovalView, DecodedView, Items, SimulationView } from '../types.ts';

const STATUSES = ['pending', 'approved', 'rejected', 'expired'];

export function ApprovalsPage() {
  const [status, setStatus] = useState('pending');
  const { data, error, loading } = useApi<Items<ApprovalView>>(`/admin/approvals?status=${status}&limit=100`);
  return (
    <main>
      <Title>Approvals</Title>
      <div class="filters">
        <Choice label="Status" id="approval-status" value={status} options={STATUSES} onChange={setStatus} />
      </div>
      <ErrorBox error={error} />
      {loading && !data ? <Notice>Loading…</Notice> : null}
      <ListTable
        caption={`${status} approvals`}
        head={['Intent', 'Amount', 'USD', 'Rule', 'Votes', 'Expires']}
        items={data?.items}
      >
        {(a) => (
          <tr key={a.id}>
            <td>
              <Link to={`/approvals/${a.id}`}>
                {a.intent?.type ?? 'intent'} to <Mono>{short(a.intent?.to)}</Mono>
              </Link>
            </td>
            <td>
              {a.intent?.amount} {assetName(a.intent?.asset)}
            </td>
            <td>{usd(a.valueUsd)}</td>
            <td>{a.intent?.decision?.policy ?? '—'}</td>
            <td>
              {a.approvedBy.length} / {a.required}
            </td>
            <td>{a.status === 'pending' ? <TimeLeft until={a.expiresAt} /> : <Badge value={a.status} />}</td>
          </tr>
        )}
      </ListTable>
    </main>
  );
}

export function short(address: string | null | undefined): string {
  if (!address) return '—';
  return address.length > 14 ? `${address.slice(0, 8)}…${address.slice(-6)}` : address;
}

/** Base units as the asset's own unit when the console knows its decimals (the native coin: 18), else as they are. */
export function units(amount: string, asset: string): string {
  if (asset !== 'native' || !/^-?[0-9]+$/.test(amount)) return amount;
  const negative = amount.startsWith('-');
  const digits = (negative ? amount.slice(1) : amount).padStart(19, '0');
  const whole = digits.slice(0, -18).replace(/^0+(?=.)/, '');
  const fraction = digits.slice(-18).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''} ETH`;
}

export function assetName(asset: string | null | undefined): string {
  return asset === 'native' ? 'ETH (native)' : (asset ?? '');
}

function Effects(props: { decoded: DecodedView | null }) {
  const d = props.decoded;
  if (!d || d.status === 'plain') return null;
  if (d.status === 'undecodable')
    return (
      <p class="error">
        The calldata could not be decoded: <code>{d.error?.code}</code> {d.error?.message}
      </p>
    );
  return (
    <section aria-labelledby="decoded-h">
      <h2 id="decoded-h">Decoded call{d.functionName ? `: ${d.functionName}` : ''}</h2>
      {d.flags.delegatecall ? <p class="error">A delegatecall runs another contract's code as the account.</p> : null}
      {d.flags.unlimitedApproval ? <p class="error">An approval in this call is unlimited.</p> : null}
      {d.flags.truncated ? <p class="error">The call tree is too deep to decode completely.</p> : null}
      <Table caption="Effects" head={['Effect', 'Token', 'Recipient', 'Spender', 'Amount (base units)']}>
        {d.effects.map((e, i) => (
          <tr key={i}>
            <td>{e.kind.replace(/_/g, ' ')}</td>
            <td>
              <Mono>{e.asset}</Mono>
            </td>
            <td>
              <Mono>{e.recipient ?? '—'}</Mono>
            </td>
            <td>
              <Mono>{e.spender ?? '—'}</Mono>
            </td>
            <td>{e.unlimited ? 'unlimited' : (e.amount ?? e.tokenId ?? '—')}</td>
          </tr>
        ))}
      </Table>
      {d.calls.length > 1 ? (
        <Table caption="Calls inside the batch" head={['Position', 'Operation', 'Target', 'Function', 'Value (wei)']}>
          {d.calls.map((c, i) => (
            <tr key={i}>
              <td>{c.path.length ? c.path.join('.') : 'root'}</td>
              <td>{c.operation}</td>
              <td>
                <Mono>{c.target}</Mono>
              </td>
              <td>{c.functionName ?? c.selector ?? '—'}</td>
              <td>{c.value}</td>
            </tr>
          ))}
        </Table>
      ) : null}
    </section>
  );
}

function Simulation(props: { simulation: SimulationView | undefined }) {
  const s = props.simulation;
  if (!s) return null;
  const flows = [
    ...s.outflows.map((f) => ({ ...f, direction: 'out' })),
    ...s.inflows.map((f) => ({ ...f, direction: 'in' })),
  ];
  return (
    <section aria-labelledby="sim-h">
      <h2 id="sim-h">Simulation</h2>
      <Facts
        label="Simulation"
        rows={[
          ['Result', <Badge value={s.status} />],
          ['Gas used', s.gasUsed],
          ['Block', s.blockNumber],
          ['Net outflow', usd(s.netOutflowUsd)],
        ]}
      />
      <Table caption="Balance changes of the signer" head={['Direction', 'Asset', 'Amount', 'Counterparty']}>
        {flows.map((f, i) => (
          <tr key={i}>
            <td>{f.direction === 'out' ? 'leaves' : 'arrives'}</td>
            <td>
              <Mono>{f.asset}</Mono>
            </td>
            <td>
              {f.direction === 'out' ? '−' : '+'}
              {units(f.amount, f.asset)}
            </td>
            <td>
              <Mono>{f.counterparty}</Mono>
            </td>
          </tr>
        ))}
      </Table>
      {s.approvals.length ? (
        <Table caption="Approvals granted" head={['Asset', 'Spender', 'Amount']}>
          {s.approvals.map((a, i) => (
            <tr key={i}>
              <td>
                <Mono>{a.asset}</Mono>
              </td>
              <td>
                <Mono>{a.spender}</Mono>
              </td>
              <td>{a.unlimited ? 'unlimited' : a.amount}</td>
            </tr>
          ))}
        </Table>
      ) : null}
    </section>
  );
}

/**
 * One approval: what will be signed, decoded; the simulation; the rule and its reasons; the digest; votes and time
 * left. Approving sends the digest shown on this page, so a vote counts only for what the approver saw.
 */
export function ApprovalPage(props: { id: string; focusDecision: string | null }) {
  const { data: a, error, loading, reload } = useApi<ApprovalView>(`/admin/approvals/${encodeURIComponent(props.id)}`);
  const [reason, setReason] = useState('');
  const decide = useAction((kind: 'approve' | 'reject', body: Record<string, string>) =>
    api('POST', `/admin/approvals/${encodeURIComponent(props.id)}/${kind}`, body),
  );
  const approveRef = useRef<HTMLButtonElement>(null);
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (a?.status !== 'pending') return;
    if (props.focusDecision === 'approve') approveRef.current?.focus();
    if (props.focusDecision === 'reject') reasonRef.current?.focus();
  }, [a?.id]);
  useEffect(() => {
    if (decide.result) reload();
  }, [decide.result]);

  if (loading && !a) return <Notice>Loading…</Notice>;
  if (!a)
    return (
      <main>
        <Title>Approval</Title>
        <ErrorBox error={error} />
      </main>
    );
  const i = a.intent;
  if (!i)
    return (
      <main>
        <Title>Approval {a.id}</Title>
        <p class="error">The intent of this approval is gone.</p>
      </main>
    );
  const money = i.decision?.money;
  const quorum = i.decision?.approval?.quorum;
  const reject = (event: Submit) => {
    event.preventDefault();
    void decide.run('reject', { reason, digest: a.digest });
  };
  return (
    <main>
      <BackLink to="/approvals" label="Approvals" />
      <Title>
        Approve {i.amount} {assetName(i.asset)} {i.type === 'transfer' ? 'to' : 'call to'} {short(i.to)}?
      </Title>
      <p>
        <Badge value={a.status} />{' '}
        {a.status === 'pending' ? (
          <>
            Time left: <TimeLeft until={a.expiresAt} />
          </>
        ) : null}
      </p>
      <section aria-labelledby="what-h">
        <h2 id="what-h">What will be signed</h2>
        <Facts
          label="What will be signed"
          rows={[
            ['Type', i.type],
            ['Chain', i.chainId],
            [i.type === 'transfer' ? 'Recipient' : 'Contract', <Mono testid="recipient">{i.to}</Mono>],
            ['Token', <Mono testid="token">{assetName(i.asset)}</Mono>],
            ['Amount', <strong data-testid="amount">{`${i.amount} ${assetName(i.asset)}`}</strong>],
            ['USD value', <strong data-testid="usd">{usd(a.valueUsd)}</strong>],
            ['Worst-case fee', usd(money?.feeUsd)],
            ['From (signer)', <Mono>{i.from}</Mono>],
            ['Agent', <Mono>{a.agentId}</Mono>],
            ['Memo', i.memo],
            ['Calldata', i.data ? <Mono>{i.data}</Mono> : null],
          ]}
        />
      </section>
      <Effects decoded={a.decoded} />
      <Simulation simulation={i.simulation} />
      <section aria-labelledby="rule-h">
        <h2 id="rule-h">Why it needs you</h2>
        <Facts
          label="Rule"
          rows={[
            ['Rule', i.decision?.policy],
            ['Breaker', money ? <Badge value={money.breaker} /> : null],
            ['Reasons', <Reasons reasons={i.decision?.reasons} />],
          ]}
        />
      </section>
      <section aria-labelledby="votes-h">
        <h2 id="votes-h">Votes</h2>
        <Facts
          label="Votes"
          rows={[
            ['Votes', <span data-testid="votes">{`${a.approvedBy.length} of ${a.required}`}</span>],
            ['Approved by', a.approvedBy.join(', ') || 'nobody yet'],
            [
              'Who may approve',
              [...(quorum?.approvers ?? a.approvers ?? []), ...(a.roles ?? [])].join(', ') || 'any approver',
            ],
            ['Expires', when(a.expiresAt)],
            ['Decided', a.decidedAt ? `${when(a.decidedAt)} by ${a.decidedBy ?? '—'}` : null],
            ['Reason', a.reason],
            ['Digest', <Mono testid="digest">{a.digest}</Mono>],
            ['Intent', <Link to={`/intents/${i.id}`}>{i.id}</Link>],
            ['Intent status', <Badge value={i.status} />],
          ]}
        />
      </section>
      {a.status === 'pending' ? (
        <section aria-labelledby="decide-h" class="card decide">
          <h2 id="decide-h">Decide</h2>
          <p>
            Approving counts one vote for digest <Mono>{a.digest.slice(0, 23)}…</Mono>; if the intent changes, the vote
            does not count.
          </p>
          <button
            type="button"
            class="primary"
            ref={approveRef}
            disabled={decide.busy}
            onClick={() => void decide.run('approve', { digest: a.digest })}
          >
            Approve
          </button>
          <form onSubmit={reject}>
            <Field label="Reason for rejecting" id="reject-reason">
              <textarea
                id="reject-reason"
                ref={reasonRef}
                required
                maxLength={500}
                rows={2}
                value={reason}
                onInput={(e) => setReason(e.currentTarget.value)}
              />
            </Field>
            <button type="submit" class="danger" disabled={decide.busy}>
              Reject
            </button>
          </form>
        </section>
      ) : null}
      <ErrorBox error={decide.error} />
      {decide.result ? <Notice>Your decision was recorded.</Notice> : null}
    </main>
  );
}
