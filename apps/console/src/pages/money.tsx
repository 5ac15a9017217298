import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import {
  Badge,
  ErrorBox,
  Field,
  Mono,
  Notice,
  Table,
  Title,
  useAction,
  useApi,
  usd,
  when,
  type Submit,
} from '../ui.tsx';
import type { CostsView } from '../types.ts';

/** Spend by scope against limits, with each breaker's colour; owners reset a breaker with a reason. */
export function MoneyPage() {
  const { data, error, reload } = useApi<CostsView>('/admin/costs');
  const [scope, setScope] = useState('');
  const [reason, setReason] = useState('');
  const reset = useAction(async () => {
    const r = await api('POST', '/admin/costs/reset', { scope, reason });
    reload();
    return r;
  });
  const submit = (e: Submit) => {
    e.preventDefault();
    void reset.run();
  };
  return (
    <main>
      <Title>Money</Title>
      <ErrorBox error={error} />
      {!data && !error ? <Notice>Loading…</Notice> : null}
      {data ? (
        <>
          <p>
            Default breaker steps: warning {usd(data.defaults.breaker.warningUsd)}, soft{' '}
            {usd(data.defaults.breaker.softUsd)}, hard {usd(data.defaults.breaker.hardUsd)}, emergency{' '}
            {usd(data.defaults.breaker.emergencyUsd)} a day.
          </p>
          <Table
            caption="Spend by scope (24 h)"
            head={['Scope', 'Breaker', 'Spent today', 'Daily limit', 'Last hour', 'Hourly limit', 'Latched']}
            empty={!data.scopes.length}
          >
            {data.scopes.map((s) => (
              <tr key={s.scope}>
                <td>
                  <Mono>{s.scope}</Mono>
                </td>
                <td>
                  <Badge value={s.breaker.state} /> <span class="hint">{s.breaker.level}</span>
                </td>
                <td>
                  {usd(s.spend.dayUsd)} ({s.spend.dayCount})
                </td>
                <td>{s.limits.dailyUsd ? usd(s.limits.dailyUsd) : 'none'}</td>
                <td>{usd(s.spend.hourUsd)}</td>
                <td>{s.limits.hourlyUsd ? usd(s.limits.hourlyUsd) : 'none'}</td>
                <td>{s.breaker.latchedAt ? when(s.breaker.latchedAt) : '—'}</td>
              </tr>
            ))}
          </Table>
          <Table caption="Spend by asset (24 h)" head={['Chain', 'Asset', 'USD', 'Count']} empty={!data.byAsset.length}>
            {data.byAsset.map((a) => (
              <tr key={`${a.chainId}-${a.asset}`}>
                <td>{a.chainId}</td>
                <td>
                  <Mono>{a.asset}</Mono>
                </td>
                <td>{usd(a.dayUsd)}</td>
                <td>{a.count}</td>
              </tr>
            ))}
          </Table>
          <form class="card" onSubmit={submit} aria-label="Reset a breaker">
            <h2>Reset a breaker (owners)</h2>
            <Field label="Scope" id="reset-scope">
              <select id="reset-scope" required value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
                <option value="">Choose…</option>
                {data.scopes.map((s) => (
                  <option value={s.scope} key={s.scope}>
                    {s.scope}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Reason" id="reset-reason">
              <input
                id="reset-reason"
                required
                maxLength={500}
                value={reason}
                onInput={(e) => setReason(e.currentTarget.value)}
              />
            </Field>
            <button type="submit" disabled={reset.busy}>
              Reset breaker
            </button>
            <ErrorBox error={reset.error} />
            {reset.result ? <Notice>Reset.</Notice> : null}
          </form>
        </>
      ) : null}
    </main>
  );
}
