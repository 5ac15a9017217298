import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import {
  Badge,
  ConfirmButton,
  ErrorBox,
  Field,
  FormSubmit,
  FormTitle,
  Loading,
  Mono,
  Notice,
  ShownOnce,
  Table,
  TextField,
  Title,
  submitIfConfirmed,
  useAction,
  useApi,
  when,
} from '../ui.tsx';
import type { AgentView, IssuedKey, Items, KeyView, SignerKey } from '../types.ts';

const INTENT_TYPES = ['transfer', 'contract_call', 'swap', 'typed_data', 'message', 'authorization'];

/** Scopes as typed: chain ids as text (empty: any chain), intent types ticked (none: any type). */
interface ScopesDraft {
  chains: string;
  types: string[];
}

/**
 * The scopes body the API takes. Chain ids are sent as typed (a word stays a string), so the API itself refuses what
 * is not a chain id and the console shows its code.
 */
function scopesBody(draft: ScopesDraft): { chains?: (number | string)[]; types?: string[] } {
  const chains = draft.chains
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((c) => (/^\d+$/.test(c) ? Number(c) : c));
  return { ...(chains.length ? { chains } : {}), ...(draft.types.length ? { types: draft.types } : {}) };
}

const describeScopes = (s: { chains: (number | string)[] | null; types: string[] | null }) =>
  `chains ${s.chains?.length ? s.chains.join(', ') : 'any'}; types ${s.types?.length ? s.types.join(', ') : 'any'}`;

function ScopesFields(props: { id: string; draft: ScopesDraft; onChange: (d: ScopesDraft) => void }) {
  const { id, draft, onChange } = props;
  const toggle = (type: string, on: boolean) =>
    onChange({ ...draft, types: on ? [...draft.types, type] : draft.types.filter((t) => t !== type) });
  return (
    <>
      <TextField
        label="Chains"
        id={`${id}-chains`}
        hint="Chain ids separated by commas, e.g. 1, 8453. Empty: any chain."
        inputMode="numeric"
        value={draft.chains}
        onValue={(chains) => onChange({ ...draft, chains })}
      />
      <fieldset class="checks">
        <legend>Intent types (none ticked: any type)</legend>
        {INTENT_TYPES.map((t) => (
          <label key={t} class="check">
            <input
              type="checkbox"
              checked={draft.types.includes(t)}
              onChange={(e) => toggle(t, e.currentTarget.checked)}
            />
            {t.replace(/_/g, ' ')}
          </label>
        ))}
      </fieldset>
    </>
  );
}

/** A new agent bound to a signer key the signer holds, with its first API key (shown once). */
function NewAgentForm(props: { onIssued: (key: IssuedKey, name: string) => void }) {
  const signers = useApi<Items<SignerKey>>('/admin/signer/keys');
  const [name, setName] = useState('');
  const [signer, setSigner] = useState('');
  const [label, setLabel] = useState('');
  const [days, setDays] = useState('');
  const [scopes, setScopes] = useState<ScopesDraft>({ chains: '', types: [] });
  const create = useAction(async () => {
    const issued = await api<IssuedKey>('POST', '/admin/agents', {
      name,
      signerAddress: signer,
      ...(label ? { label } : {}),
      ...(days ? { expiresInDays: Number(days) } : {}),
      scopes: scopesBody(scopes),
    });
    props.onIssued(issued, name);
    setName('');
    setLabel('');
    setDays('');
    setScopes({ chains: '', types: [] });
    return issued;
  });
  const submit = submitIfConfirmed(() => {
    const body = scopesBody(scopes);
    return `Create agent ${name}, signing with ${signer}, and issue its first API key (${describeScopes({
      chains: body.chains ?? null,
      types: body.types ?? null,
    })})?`;
  }, create.run);
  const active = signers.data?.items.filter((k) => k.state === 'active') ?? [];
  return (
    <form class="card" onSubmit={submit} aria-label="New agent">
      <h2>New agent</h2>
      <TextField
        label="Agent name"
        id="agent-name"
        hint="Letters, digits, dot, dash and underscore."
        required
        maxLength={128}
        pattern="[A-Za-z0-9._\-]+"
        value={name}
        onValue={setName}
      />
      <Field label="Signer key" id="agent-signer">
        <select id="agent-signer" required value={signer} onChange={(e) => setSigner(e.currentTarget.value)}>
          <option value="">Choose…</option>
          {active.map((k) => (
            <option value={k.address} key={k.address}>
              {k.address}
              {k.label ? ` (${k.label})` : ''}
            </option>
          ))}
        </select>
      </Field>
      <ErrorBox error={signers.error} />
      <TextField label="Key label" id="agent-label" maxLength={128} value={label} onValue={setLabel} />
      <TextField
        label="Key expires in (days)"
        id="agent-days"
        hint="Empty: the key does not expire."
        type="number"
        min={1}
        max={3650}
        value={days}
        onValue={setDays}
      />
      <ScopesFields id="agent-scopes" draft={scopes} onChange={setScopes} />
      <FormSubmit label="Create agent and key" tone="primary" action={create} />
    </form>
  );
}

/** What an in-place key form is given: the agent and key it is about, and what to do once it is done or cancelled. */
interface KeyFormProps {
  agent: string;
  k: KeyView;
  onDone: () => void;
  onCancel: () => void;
}

/**
 * An in-place form about one key, opened below its table: its focused title and fields, then submit (asks `question`,
 * runs `write`, closes), Cancel, and the API's refusal.
 */
function KeyForm(
  props: KeyFormProps & {
    title: string;
    submit: string;
    tone: 'primary' | 'danger';
    question: () => string;
    write: () => Promise<unknown>;
    children: ComponentChildren;
  },
) {
  const { k } = props;
  const action = useAction(async () => {
    const r = await props.write();
    props.onDone();
    return r;
  });
  const submit = submitIfConfirmed(props.question, action.run);
  return (
    <form class="card" onSubmit={submit} aria-label={`${props.title} ${k.keyId}`}>
      <FormTitle>
        {props.title} <Mono>{k.keyId}</Mono>
      </FormTitle>
      {props.children}
      <div class="actions">
        <button type="submit" class={props.tone} disabled={action.busy}>
          {props.submit}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      <ErrorBox error={action.error} />
    </form>
  );
}

/** Replace a key's scopes; they apply to its next request. */
function ScopesForm(props: KeyFormProps) {
  const { k } = props;
  const [draft, setDraft] = useState<ScopesDraft>({
    chains: k.scopes.chains?.join(', ') ?? '',
    types: k.scopes.types ?? [],
  });
  const question = () => {
    const body = scopesBody(draft);
    const next = describeScopes({ chains: body.chains ?? null, types: body.types ?? null });
    return `Change the scopes of key ${k.keyId} of ${props.agent} to: ${next}? This applies to its next request.`;
  };
  return (
    <KeyForm
      {...props}
      title="Scopes of key"
      submit="Save scopes"
      tone="primary"
      question={question}
      write={() => api('PUT', `/admin/keys/${k.id}/scopes`, scopesBody(draft))}
    >
      <ScopesFields id={`scopes-${k.id}`} draft={draft} onChange={setDraft} />
    </KeyForm>
  );
}

/** Lift an input-hygiene quarantine early, with a reason (audited). */
function ReleaseForm(props: KeyFormProps) {
  const { k } = props;
  const [reason, setReason] = useState('');
  return (
    <KeyForm
      {...props}
      title="Lift the quarantine of key"
      submit="Lift quarantine"
      tone="danger"
      question={() =>
        `Lift the quarantine of key ${k.keyId} of ${props.agent} now? Its hit count starts again from zero.`
      }
      write={() => api('POST', `/admin/keys/${k.id}/quarantine/release`, { reason })}
    >
      <p>
        Quarantined until {when(k.quarantinedUntil)} after repeated hostile intents (docs/intent-hygiene.md). Lift it
        only once you know why the agent sent them.
      </p>
      <TextField label="Reason" id={`release-${k.id}`} required maxLength={500} value={reason} onValue={setReason} />
    </KeyForm>
  );
}

function keyState(k: KeyView) {
  if (k.revokedAt) return <Badge value="revoked" />;
  if (k.quarantinedUntil)
    return (
      <>
        <Badge value="quarantined" /> <span class="hint">until {when(k.quarantinedUntil)}</span>
      </>
    );
  return <Badge value={k.replacedBy ? 'rotated' : 'active'} />;
}

/**
 * Agents and their API keys: create an agent with its first key, change a key's scopes, rotate (the old key keeps
 * working for the overlap), revoke, lift a quarantine. A new key shows once.
 */
export function AgentsPage() {
  const { data, error, reload } = useApi<Items<AgentView>>('/admin/agents');
  const [issued, setIssued] = useState<{ label: string; key: string } | null>(null);
  const [editing, setEditing] = useState<{ id: string; mode: 'scopes' | 'release' } | null>(null);
  const [done, setDone] = useState('');
  const act = useAction(async (path: string) => {
    const r = await api<IssuedKey | KeyView>('POST', path, {});
    reload();
    return r;
  });
  const rotate = async (k: KeyView) => {
    const r = await act.run(`/admin/keys/${k.id}/rotate`);
    if (r && 'apiKey' in r) setIssued({ label: `New API key replacing ${k.keyId}`, key: r.apiKey });
  };
  const finish = (message: string) => () => {
    setEditing(null);
    setDone(message);
    reload();
  };
  return (
    <main>
      <Title>Agents and keys</Title>
      {issued ? <ShownOnce label={issued.label} secret={issued.key} onDone={() => setIssued(null)} /> : null}
      <ErrorBox error={error ?? act.error} />
      {done ? <Notice>{done}</Notice> : null}
      <NewAgentForm
        onIssued={(key, name) => {
          setIssued({ label: `API key of ${name}`, key: key.apiKey });
          setDone(`Agent ${name} created.`);
          reload();
        }}
      />
      <Loading data={data} error={error} />
      {data?.items.map((agent) => (
        <section key={agent.id} class="card" aria-label={`Agent ${agent.name}`}>
          <h2>
            {agent.name} {agent.disabled ? <Badge value="disabled" /> : null}
          </h2>
          <p>
            Agent <Mono>{agent.id}</Mono>, signer <Mono>{agent.signerAddress}</Mono>
          </p>
          <Table caption={`Keys of ${agent.name}`} head={['Key', 'Scopes', 'Last used', 'Expires', 'State', 'Actions']}>
            {agent.keys.map((k) => (
              <tr key={k.id}>
                <td>
                  <Mono>{k.keyId}</Mono> {k.label ?? ''}
                </td>
                <td>{describeScopes(k.scopes)}</td>
                <td>{when(k.lastUsedAt)}</td>
                <td>{when(k.expiresAt)}</td>
                <td>{keyState(k)}</td>
                <td class="row-actions">
                  {!k.revokedAt ? (
                    <>
                      <button type="button" onClick={() => setEditing({ id: k.id, mode: 'scopes' })}>
                        Edit scopes<span class="sr-only"> of key {k.keyId}</span>
                      </button>
                      {k.quarantinedUntil ? (
                        <button type="button" onClick={() => setEditing({ id: k.id, mode: 'release' })}>
                          Lift quarantine<span class="sr-only"> of key {k.keyId}</span>
                        </button>
                      ) : null}
                      {!k.replacedBy ? (
                        <ConfirmButton
                          question={`Rotate key ${k.keyId}? A new key is issued; the old one keeps working for one day.`}
                          busy={act.busy}
                          onConfirm={() => rotate(k)}
                        >
                          Rotate<span class="sr-only"> key {k.keyId}</span>
                        </ConfirmButton>
                      ) : null}
                      <ConfirmButton
                        question={`Revoke key ${k.keyId}? It stops working at once.`}
                        busy={act.busy}
                        tone="danger"
                        onConfirm={() => act.run(`/admin/keys/${k.id}/revoke`)}
                      >
                        Revoke<span class="sr-only"> key {k.keyId}</span>
                      </ConfirmButton>
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </Table>
          {agent.keys.map((k) => {
            if (editing?.id !== k.id) return null;
            const [Form, done] =
              editing.mode === 'scopes'
                ? [ScopesForm, `Scopes of key ${k.keyId} saved.`]
                : [ReleaseForm, `Quarantine of key ${k.keyId} lifted.`];
            return <Form key={k.id} agent={agent.name} k={k} onDone={finish(done)} onCancel={() => setEditing(null)} />;
          })}
        </section>
      ))}
    </main>
  );
}
