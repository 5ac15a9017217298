import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import {
  Badge,
  Choice,
  ConfirmButton,
  ErrorBox,
  FormSubmit,
  ListTable,
  Loading,
  Mono,
  Notice,
  StatusFilter,
  TextField,
  Title,
  submitIfConfirmed,
  useAction,
  useApi,
  useStatusList,
  when,
  type InputAttributes,
} from '../ui.tsx';
import type { ChannelView, Items, OutboxItem, TestOutcome } from '../types.ts';

const KINDS = ['webhook', 'slack', 'email', 'pagerduty'] as const;
type Kind = (typeof KINDS)[number];

/** Every field of every kind, as typed; `body()` picks the ones the chosen kind takes. */
const EMPTY = {
  name: '',
  kind: 'webhook' as Kind,
  url: '',
  secret: '',
  host: '',
  port: '587',
  tls: 'starttls',
  username: '',
  password: '',
  from: '',
  to: '',
  routingKey: '',
  severity: '',
};
type Draft = typeof EMPTY;

/** The PUT body for the draft's kind (docs/notifications.md); the API checks every field. */
function body(d: Draft): Record<string, unknown> {
  switch (d.kind) {
    case 'webhook':
      return { kind: d.kind, url: d.url, secret: d.secret };
    case 'slack':
      return { kind: d.kind, url: d.url };
    case 'email':
      return {
        kind: d.kind,
        host: d.host,
        port: Number(d.port),
        tls: d.tls,
        ...(d.username ? { username: d.username } : {}),
        ...(d.password ? { password: d.password } : {}),
        from: d.from,
        to: d.to.split(/[\s,]+/).filter(Boolean),
      };
    case 'pagerduty':
      return {
        kind: d.kind,
        routingKey: d.routingKey,
        ...(d.url ? { url: d.url } : {}),
        ...(d.severity ? { severity: d.severity } : {}),
      };
  }
}

/** A channel's settings in one line (never a secret: the API answers only its last characters). */
function summary(c: ChannelView): string {
  const s = c.settings;
  const parts = [
    s.url,
    s.host ? `${s.host}:${s.port ?? ''} (${s.tls ?? ''})` : null,
    s.from ? `from ${s.from}` : null,
    s.to ? `to ${s.to.join(', ')}` : null,
    s.severity ? `severity ${s.severity}` : null,
  ];
  return parts.filter(Boolean).join('; ') || '—';
}

/** The form filled from a channel, to change it (its secret must be entered again: a PUT replaces the channel). */
function draftOf(c: ChannelView): Draft {
  const s = c.settings;
  return {
    ...EMPTY,
    name: c.name,
    kind: c.kind as Kind,
    url: s.url ?? '',
    host: s.host ?? '',
    port: s.port ? String(s.port) : EMPTY.port,
    tls: s.tls ?? EMPTY.tls,
    username: s.username ?? '',
    from: s.from ?? '',
    to: s.to?.join(', ') ?? '',
    severity: s.severity ?? '',
  };
}

function ChannelForm(props: { initial: Draft; onSaved: (name: string) => void }) {
  const [d, setD] = useState<Draft>(props.initial);
  const save = useAction(async () => {
    const r = await api('PUT', `/admin/notifications/channels/${encodeURIComponent(d.name)}`, body(d));
    props.onSaved(d.name);
    return r;
  });
  const submit = submitIfConfirmed(
    () => `Save the ${d.kind} channel ${d.name}? An existing channel of that name is replaced, secret included.`,
    save.run,
  );
  const input = (field: keyof Draft, label: string, attributes: InputAttributes = {}, hint?: string) => (
    <TextField
      label={label}
      id={`ch-${field}`}
      hint={hint}
      value={d[field]}
      onValue={(value) => setD({ ...d, [field]: value })}
      {...attributes}
    />
  );
  return (
    <form class="card" onSubmit={submit} aria-label="Configure a channel">
      <h2>Configure a channel</h2>
      <p class="hint">
        Saving a name that exists replaces that channel. Secrets are sealed at rest and never shown again; enter them
        each time.
      </p>
      {input(
        'name',
        'Channel name',
        { required: true, maxLength: 64, autocomplete: 'off' },
        'The name policies use: lower-case letters, digits, dash and underscore.',
      )}
      <Choice
        label="Kind"
        id="ch-kind"
        value={d.kind}
        options={KINDS}
        onChange={(v) => setD({ ...d, kind: v as Kind })}
      />
      {d.kind === 'webhook' ? (
        <>
          {input('url', 'URL', { required: true, type: 'url' })}
          {input(
            'secret',
            'HMAC secret',
            { required: true, type: 'password', autocomplete: 'off' },
            'At least 32 characters, e.g. the output of openssl rand -hex 32.',
          )}
        </>
      ) : null}
      {d.kind === 'slack'
        ? input('url', 'Slack incoming-webhook URL', { required: true, type: 'password', autocomplete: 'off' })
        : null}
      {d.kind === 'email' ? (
        <>
          {input('host', 'SMTP host', { required: true })}
          {input('port', 'SMTP port', { required: true, type: 'number', min: 1, max: 65535 })}
          <Choice
            label="TLS"
            id="ch-tls"
            value={d.tls}
            options={['starttls', 'implicit', 'none']}
            onChange={(tls) => setD({ ...d, tls })}
          />
          {input('username', 'SMTP username', { autocomplete: 'off' })}
          {input('password', 'SMTP password', { type: 'password', autocomplete: 'off' })}
          {input('from', 'From address', { required: true, type: 'email' })}
          {input('to', 'To addresses', { required: true }, 'Separated by commas; at most 20.')}
        </>
      ) : null}
      {d.kind === 'pagerduty' ? (
        <>
          {input('routingKey', 'Routing key', { required: true, type: 'password', autocomplete: 'off' })}
          {input('url', 'Events API URL', { type: 'url' }, 'Empty: PagerDuty’s own.')}
          <Choice
            label="Severity"
            id="ch-severity"
            value={d.severity}
            options={['', 'critical', 'error', 'warning', 'info']}
            empty="from the message"
            onChange={(severity) => setD({ ...d, severity })}
          />
        </>
      ) : null}
      <FormSubmit label="Save channel" tone="primary" action={save} />
    </form>
  );
}

/** Channels by name with a test-send each, the form that configures one, and the outbox with retry for dead letters. */
export function NotificationsPage() {
  const channels = useApi<Items<ChannelView>>('/admin/notifications/channels');
  const outbox = useStatusList<OutboxItem>('/admin/notifications/outbox', 50, 'dead');
  const [draft, setDraft] = useState<{ d: Draft; n: number }>({ d: EMPTY, n: 0 });
  const [done, setDone] = useState('');
  const test = useAction(async (name: string) => {
    const r = await api<TestOutcome>('POST', `/admin/notifications/channels/${encodeURIComponent(name)}/test`);
    outbox.reload();
    return { name, ...r };
  });
  const act = useAction(async (method: string, path: string, message: string) => {
    await api(method, path);
    channels.reload();
    outbox.reload();
    setDone(message);
    return message;
  });
  const outcome = test.result;
  return (
    <main>
      <Title>Notification channels</Title>
      <ErrorBox error={channels.error ?? act.error ?? test.error} />
      {done ? <Notice>{done}</Notice> : null}
      {outcome ? (
        <p class={outcome.delivered ? 'notice' : 'error'} role="status" data-testid="test-outcome">
          Test to {outcome.name}: <Badge value={outcome.status} /> after {outcome.attempts} attempt(s)
          {outcome.httpStatus !== null ? `, HTTP ${outcome.httpStatus}` : ''}
          {outcome.error ? (
            <>
              {' '}
              <code>{outcome.error.code}</code> {outcome.error.message}
            </>
          ) : null}
        </p>
      ) : null}
      <Loading data={channels.data} error={channels.error} />
      <ListTable
        caption="Channels"
        head={['Name', 'Kind', 'Settings', 'Secret', 'Updated', 'Actions']}
        items={channels.data?.items}
      >
        {(c) => (
          <tr key={c.name}>
            <td>
              <Mono>{c.name}</Mono>
            </td>
            <td>{c.kind}</td>
            <td>{summary(c)}</td>
            <td>{c.secret ? <Mono>{c.secret.hint}</Mono> : 'none'}</td>
            <td>{when(c.updatedAt)}</td>
            <td class="row-actions">
              <ConfirmButton
                question={`Send a test message to ${c.name} now?`}
                busy={test.busy}
                onConfirm={() => test.run(c.name)}
              >
                Send test<span class="sr-only"> to {c.name}</span>
              </ConfirmButton>
              <button type="button" onClick={() => setDraft((p) => ({ d: draftOf(c), n: p.n + 1 }))}>
                Edit<span class="sr-only"> {c.name}</span>
              </button>
              <ConfirmButton
                question={`Delete channel ${c.name}? Messages still pending for it will fail.`}
                busy={act.busy}
                tone="danger"
                onConfirm={() =>
                  act.run(
                    'DELETE',
                    `/admin/notifications/channels/${encodeURIComponent(c.name)}`,
                    `Channel ${c.name} deleted.`,
                  )
                }
              >
                Delete<span class="sr-only"> {c.name}</span>
              </ConfirmButton>
            </td>
          </tr>
        )}
      </ListTable>
      <ChannelForm
        key={draft.n}
        initial={draft.d}
        onSaved={(name) => {
          setDone(`Channel ${name} saved.`);
          channels.reload();
          setDraft((p) => ({ d: EMPTY, n: p.n + 1 }));
        }}
      />
      <h2>Outbox</h2>
      <StatusFilter
        label="Delivery status"
        id="outbox-status"
        options={['dead', 'pending', 'delivered', '']}
        list={outbox}
      />
      <ErrorBox error={outbox.error} />
      <ListTable
        caption="Notifications"
        head={['Id', 'Channel', 'Event', 'Status', 'Attempts', 'Last attempt', 'Last error', 'Actions']}
        items={outbox.data?.items}
      >
        {(n) => (
          <tr key={n.id}>
            <td>{n.id}</td>
            <td>
              <Mono>{n.channel}</Mono>
            </td>
            <td>{n.event}</td>
            <td>
              <Badge value={n.status} />
            </td>
            <td>{n.attempts}</td>
            <td>{when(n.lastAttemptAt)}</td>
            <td>
              {n.lastErrorCode ? <code>{n.lastErrorCode}</code> : null} {n.lastError ?? ''}
              {n.lastHttpStatus !== null ? ` (HTTP ${n.lastHttpStatus})` : ''}
            </td>
            <td>
              {n.status === 'dead' ? (
                <ConfirmButton
                  question={`Send notification ${n.id} to ${n.channel} again?`}
                  busy={act.busy}
                  onConfirm={() =>
                    act.run('POST', `/admin/notifications/outbox/${n.id}/retry`, `Notification ${n.id} queued again.`)
                  }
                >
                  Retry<span class="sr-only"> notification {n.id}</span>
                </ConfirmButton>
              ) : null}
            </td>
          </tr>
        )}
      </ListTable>
    </main>
  );
}
