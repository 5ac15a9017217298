import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import {
  ErrorBox,
  Facts,
  FormSubmit,
  Mono,
  PageLoading,
  Table,
  TextField,
  Title,
  useAction,
  useApi,
  when,
  type Submit,
} from '../ui.tsx';
import type { KillSwitchStatus } from '../types.ts';

const ENGAGE = 'ENGAGE KILL SWITCH';
const RELEASE = 'RELEASE KILL SWITCH';

/**
 * The kill switch (owners, with a typed confirmation and a fresh TOTP code) and the pauses of agents, keys and chains
 * (docs/killswitch.md). Releasing needs the owners' signer release authorisation for the latch id shown.
 */
export function KillSwitchPage() {
  const { data, error, reload } = useApi<KillSwitchStatus>('/admin/killswitch');
  const [reason, setReason] = useState('');
  const [confirm, setConfirm] = useState('');
  const [totp, setTotp] = useState('');
  const [signerRelease, setSignerRelease] = useState('');
  const act = useAction(async (path: string, body: Record<string, string>) => {
    const result = await api('POST', path, body);
    setConfirm('');
    setTotp('');
    reload();
    return result;
  });
  const resume = useAction(async (scope: string) => {
    const [kind, id] = [scope.slice(0, scope.indexOf(':')), scope.slice(scope.indexOf(':') + 1)];
    const base =
      kind === 'chain' ? `/admin/chains/${id}` : kind === 'key' ? `/admin/keys/${id}` : `/admin/agents/${id}`;
    await api('POST', `${base}/resume`);
    reload();
    return scope;
  });
  if (!data) return <PageLoading title="Kill switch" error={error} />;
  const k = data.killSwitch;
  const engaged = k.engaged;
  const submit = (event: Submit) => {
    event.preventDefault();
    if (engaged)
      void act.run('/admin/killswitch/release', {
        confirm,
        totp,
        ...(signerRelease.trim() ? { signerRelease: signerRelease.trim() } : {}),
      });
    else void act.run('/admin/killswitch', { confirm, totp, reason });
  };
  const phrase = engaged ? RELEASE : ENGAGE;
  return (
    <main>
      <Title>Kill switch</Title>
      <p class={engaged ? 'banner bad' : 'banner good'} role="status" data-testid="killswitch-state">
        {engaged ? 'ENGAGED: nothing is signed' : 'Released: signing runs under policy'}
      </p>
      <Facts
        label="Kill switch"
        rows={[
          ['Engaged at', engaged ? when(k.engagedAt) : null],
          ['By', k.engagedBy],
          ['Reason', k.reason],
          ['Release votes', k.releaseVotes?.length ? k.releaseVotes.join(', ') : null],
          ['Signer latch', data.signer ? (data.signer.latched ? 'latched' : 'open') : 'signer not answering'],
          ['Latch id', data.signer?.latchId ? <Mono testid="latch-id">{data.signer.latchId}</Mono> : null],
        ]}
      />
      <form class="card" onSubmit={submit} aria-label={engaged ? 'Release the kill switch' : 'Engage the kill switch'}>
        <h2>{engaged ? 'Release' : 'Engage'}</h2>
        {!engaged ? (
          <TextField label="Reason" id="ks-reason" required maxLength={500} value={reason} onValue={setReason} />
        ) : null}
        <TextField
          label={`Type ${phrase} to confirm`}
          id="ks-confirm"
          required
          autocomplete="off"
          value={confirm}
          onValue={setConfirm}
        />
        <TextField
          label="Authenticator code (TOTP)"
          id="ks-totp"
          required
          inputMode="numeric"
          autocomplete="one-time-code"
          maxLength={6}
          value={totp}
          onValue={setTotp}
        />
        {engaged ? (
          <TextField
            label="Signer release authorisation"
            id="ks-release"
            hint="The owners' Ed25519 signature over the latch id above (base64url), made offline; see docs/killswitch.md."
            autocomplete="off"
            value={signerRelease}
            onValue={setSignerRelease}
          />
        ) : null}
        <FormSubmit
          label={engaged ? 'Release the kill switch' : 'Engage the kill switch'}
          tone="danger"
          action={act}
          ready={confirm === phrase}
          done="Done."
        />
      </form>
      <Table caption="Pauses" head={['Scope', 'Since', 'By', 'Reason', '']} empty={!data.pauses.length}>
        {data.pauses.map((p) => (
          <tr key={p.scope}>
            <td>
              <Mono>{p.scope}</Mono>
            </td>
            <td>{when(p.pausedAt)}</td>
            <td>
              <Mono>{p.pausedBy}</Mono>
            </td>
            <td>{p.reason}</td>
            <td>
              <button type="button" disabled={resume.busy} onClick={() => void resume.run(p.scope)}>
                Resume <span class="sr-only">{p.scope}</span>
              </button>
            </td>
          </tr>
        ))}
      </Table>
      <ErrorBox error={resume.error} />
    </main>
  );
}
