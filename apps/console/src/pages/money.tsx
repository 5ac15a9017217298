import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import {
  Badge,
  ErrorBox,
  Field,
  FormSubmit,
  Loading,
  Mono,
  Table,
  TextField,
  Title,
  submitIfConfirmed,
  useAction,
  useApi,
  usd,
  when,
} from '../ui.tsx';
import type { CostsView } from '../types.ts';

/** `none` removes a limit (null), empty leaves it as it is (omitted), anything else is sent for the API to check. */
function limitField(value: string): string | null | undefined {
  const v = value.trim();
  if (!v) return undefined;
  return v.toLowerCase() === 'none' ? null : v;
}

/** Set a scope's daily and hourly USD limits (owners and admins, `costs:limits`). */
function LimitsForm(props: { scopes: string[]; onSaved: () => void }) {
  const [scope, setScope] = useState('global');
  const [daily, setDaily] = useState('');
  const [hourly, setHourly] = useState('');
  const save = useAction(async () => {
    const body = { scope, dailyLimitUsd: limitField(daily), hourlyLimitUsd: limitField(hourly) };
    const r = await api('PUT', '/admin/costs/limits', body);
    props.onSaved();
    return r;
  });
  const say = (v: string, what: string) => {
    const f = limitField(v);
    return f === undefined ? `${what} unchanged` : f === null ? `no ${what}` : `${what} ${f} USD`;
  };
  const submit = submitIfConfirmed(
    () => `Set the limits of ${scope}: ${say(daily, 'daily limit')}, ${say(hourly, 'hourly limit')}?`,
    save.run,
  );
  return (
    <form class="card" onSubmit={submit} aria-label="Set limits">
      <h2>Set limits</h2>
      <Field label="Limit scope" id="limit-scope" hint="global, agent:<id> or key:<id>.">
        <input
          id="limit-scope"
          required
          list="limit-scopes"
          aria-describedby="limit-scope-hint"
          value={scope}
          onInput={(e) => setScope(e.currentTarget.value)}
        />
        <datalist id="limit-scopes">
          {props.scopes.map((s) => (
            <option value={s} key={s} />
          ))}
        </datalist>
      </Field>
      {(
        [
          ['limit-daily', 'Daily limit (USD)', daily, setDaily],
          ['limit-hourly', 'Hourly limit (USD)', hourly, setHourly],
        ] as const
      ).map(([id, label, value, set]) => (
        <TextField
          label={label}
          id={id}
          key={id}
          hint="Empty: unchanged. none: no limit."
          inputMode="decimal"
          value={value}
          onValue={set}
        />
      ))}
      <FormSubmit label="Save limits" tone="primary" action={save} done={<>Limits of {scope} saved.</>} />
    </form>
  );
}

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
  const submit = submitIfConfirmed(() => `Reset the breaker of ${scope}?`, reset.run);
  return (
    <main>
      <Title>Money</Title>
      <ErrorBox error={error} />
      <Loading data={data} error={error} />
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
          <LimitsForm scopes={data.scopes.map((s) => s.scope)} onSaved={reload} />
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
            <TextField label="Reason" id="reset-reason" required maxLength={500} value={reason} onValue={setReason} />
            <FormSubmit label="Reset breaker" action={reset} done="Reset." />
          </form>
        </>
      ) : null}
    </main>
  );
}
