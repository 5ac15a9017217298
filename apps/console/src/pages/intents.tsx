import { useState } from 'preact/hooks';
import {
  Reasons,
  BackLink,
  Badge,
  Choice,
  ErrorBox,
  Facts,
  Link,
  ListTable,
  Mono,
  Notice,
  PageLoading,
  Table,
  TextField,
  Title,
  useApi,
  usd,
  when,
  type Submit,
} from '../ui.tsx';
import { assetName, short } from './approvals.tsx';
import type { AuditRecord, AuditSegment, IntentDetail, OperatorIntent } from '../types.ts';

const STATUSES = [
  '',
  'pending_approval',
  'signed',
  'submitted',
  'confirmed',
  'failed',
  'rejected',
  'cancelled',
  'expired',
];

/** Intents across agents, filtered by status, agent, chain and USD value. */
export function IntentsPage() {
  const [form, setForm] = useState({ status: '', agent: '', chain: '', minUsd: '' });
  const [query, setQuery] = useState('limit=50');
  const { data, error, loading } = useApi<{ items: OperatorIntent[]; nextCursor: string | null }>(
    `/admin/intents?${query}`,
  );
  const apply = (event: Submit) => {
    event.preventDefault();
    const q = new URLSearchParams({ limit: '50' });
    for (const [k, v] of Object.entries(form)) if (v.trim()) q.set(k, v.trim());
    setQuery(q.toString());
  };
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  return (
    <main>
      <Title>Intents</Title>
      <form class="filters" onSubmit={apply} aria-label="Filter intents">
        <Choice
          label="Status"
          id="f-status"
          value={form.status}
          options={STATUSES}
          empty="any"
          onChange={set('status')}
        />
        <TextField label="Agent id" id="f-agent" value={form.agent} onValue={set('agent')} />
        <TextField label="Chain id" id="f-chain" inputMode="numeric" value={form.chain} onValue={set('chain')} />
        <TextField
          label="At least (USD)"
          id="f-minusd"
          inputMode="decimal"
          value={form.minUsd}
          onValue={set('minUsd')}
        />
        <button type="submit">Apply filters</button>
      </form>
      <ErrorBox error={error} />
      {loading && !data ? <Notice>Loading…</Notice> : null}
      <ListTable caption="Intents" head={['Created', 'Type', 'To', 'Amount', 'USD', 'Status']} items={data?.items}>
        {({ intent: i, valueUsd }) => (
          <tr key={i.id}>
            <td>
              <Link to={`/intents/${i.id}`}>{when(i.createdAt)}</Link>
            </td>
            <td>{i.type}</td>
            <td>
              <Mono>{short(i.to)}</Mono>
            </td>
            <td>
              {i.amount} {assetName(i.asset)}
            </td>
            <td>{usd(valueUsd)}</td>
            <td>
              <Badge value={i.status} />
            </td>
          </tr>
        )}
      </ListTable>
    </main>
  );
}

/** One intent: decision and reasons, money, transactions, and its audit trail with the chain segment verified. */
export function IntentPage(props: { id: string }) {
  const { data, error } = useApi<IntentDetail>(`/admin/intents/${encodeURIComponent(props.id)}`);
  if (!data) return <PageLoading title="Intent" error={error} />;
  const i = data.intent;
  const money = i.decision?.money;
  return (
    <main>
      <BackLink to="/intents" label="Intents" />
      <Title>
        {i.type} of {i.amount} {assetName(i.asset)}
      </Title>
      <Facts
        label="Intent"
        rows={[
          ['Status', <Badge value={i.status} />],
          ['Id', <Mono>{i.id}</Mono>],
          ['Agent', <Mono>{data.agentId}</Mono>],
          ['Chain', i.chainId],
          ['To', <Mono>{i.to}</Mono>],
          ['USD value', usd(data.valueUsd)],
          ['Transaction', i.txHash ? <Mono>{i.txHash}</Mono> : null],
          ['Error', i.error ? `${i.error.code}: ${i.error.message}` : null],
          ['Created', when(i.createdAt)],
        ]}
      />
      <h2>Decision</h2>
      <Facts
        label="Decision"
        rows={[
          ['Action', <Badge value={i.decision?.action} />],
          ['Rule', i.decision?.policy],
          ['Reasons', <Reasons reasons={i.decision?.reasons} />],
          ['Breaker', money ? <Badge value={money.breaker} /> : null],
          ['Reserved', money ? usd(money.reservedUsd) : null],
        ]}
      />
      {money?.budgets?.length ? (
        <Table caption="Budgets after this intent" head={['Scope', 'Window', 'Spent', 'Limit', 'Left']}>
          {money.budgets.map((b) => (
            <tr key={`${b.scope}-${b.window}`}>
              <td>{b.scope}</td>
              <td>{b.window}</td>
              <td>{usd(b.spentUsd)}</td>
              <td>{usd(b.limitUsd)}</td>
              <td>{usd(b.remainingUsd)}</td>
            </tr>
          ))}
        </Table>
      ) : null}
      <Table caption="Transactions" head={['Hash', 'Nonce', 'Kind']} empty={!data.transactions.length}>
        {data.transactions.map((t) => (
          <tr key={t.txHash}>
            <td>
              <Mono>{t.txHash}</Mono>
            </td>
            <td>{t.nonce}</td>
            <td>
              {t.kind}, {t.route} mempool
            </td>
          </tr>
        ))}
      </Table>
      <AuditTrail items={data.audit} segment={data.auditSegment} caption="Audit trail" />
    </main>
  );
}

export function AuditTrail(props: { items: AuditRecord[]; segment: AuditSegment | null; caption: string }) {
  const s = props.segment;
  return (
    <section aria-label={props.caption}>
      <h2>{props.caption}</h2>
      {s ? (
        <p class={s.ok === false ? 'error' : 'notice'} role="status">
          Chain segment {s.fromSeq}–{s.toSeq}:{' '}
          {s.ok === true ? 'verified intact' : s.ok === false ? 'BROKEN' : 'not checked'}
          {s.note ? ` (${s.note})` : ''}
          {s.findings.map((f) => ` · ${f.kind} at ${f.seq}: ${f.detail}`)}
        </p>
      ) : null}
      <Table caption={props.caption} head={['#', 'At', 'Actor', 'Action', 'Subject']} empty={!props.items.length}>
        {props.items.map((r) => (
          <tr key={r.seq}>
            <td>{r.seq}</td>
            <td>{when(r.at)}</td>
            <td>
              <Mono>{r.actor}</Mono>
            </td>
            <td>{r.action}</td>
            <td>
              <Mono>{r.subject ?? '—'}</Mono>
            </td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
