import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import {
  Badge,
  ConfirmButton,
  ErrorBox,
  Facts,
  Field,
  Link,
  ListTable,
  Loading,
  PageLoading,
  StatusFilter,
  Title,
  useAction,
  useApi,
  useStatusList,
  when,
} from '../ui.tsx';
import { ACK_RESOLVE_STATUSES } from './alerts.tsx';
import type { IncidentDetail, IncidentView } from '../types.ts';

/** Incidents, newest first; each opens its timeline. */
export function IncidentsPage() {
  const incidents = useStatusList<IncidentView>('/admin/incidents', 100);
  const { data, error } = incidents;
  return (
    <main>
      <Title>Incidents</Title>
      <StatusFilter id="incident-status" options={ACK_RESOLVE_STATUSES} list={incidents} />
      <ErrorBox error={error} />
      <Loading data={data} error={error} />
      <ListTable caption="Incidents" head={['Opened', 'Severity', 'Summary', 'Status']} items={data?.items}>
        {(i) => (
          <tr key={i.id}>
            <td>{when(i.openedAt)}</td>
            <td>
              <Badge value={i.severity} />
            </td>
            <td>
              <Link to={`/incidents/${i.id}`}>{i.summary}</Link>
            </td>
            <td>
              <Badge value={i.status} />
            </td>
          </tr>
        )}
      </ListTable>
    </main>
  );
}

/** One incident: what opened it, its timeline, the responses still in force; acknowledge, add a note, resolve. */
export function IncidentPage(props: { id: string }) {
  const { data, error, reload } = useApi<IncidentDetail>(`/admin/incidents/${encodeURIComponent(props.id)}`);
  const [note, setNote] = useState('');
  const [revert, setRevert] = useState(true);
  const act = useAction(async (to: 'ack' | 'notes' | 'resolve') => {
    const body =
      to === 'resolve' ? { ...(note ? { note } : {}), revert } : to === 'notes' ? { note } : note ? { note } : {};
    const r = await api<IncidentDetail>('POST', `/admin/incidents/${encodeURIComponent(props.id)}/${to}`, body);
    setNote('');
    reload();
    return r;
  });
  if (!data) return <PageLoading title="Incident" error={error} />;
  const { incident, timeline, responsesInForce } = data;
  const open = incident.status !== 'resolved';
  const undo = revert && responsesInForce.length ? ' and undo its automatic responses' : '';
  return (
    <main>
      <Title>Incident: {incident.summary}</Title>
      <Facts
        label="Incident"
        rows={[
          ['Status', <Badge value={incident.status} />],
          ['Severity', <Badge value={incident.severity} />],
          ['Rule', incident.rule],
          ['Subject', incident.subject],
          ['Opened', when(incident.openedAt)],
          [
            'Acknowledged',
            incident.acknowledgedAt ? `${when(incident.acknowledgedAt)} by ${incident.acknowledgedBy}` : null,
          ],
          ['Resolved', incident.resolvedAt ? `${when(incident.resolvedAt)} by ${incident.resolvedBy}` : null],
        ]}
      />
      <h2>Responses in force</h2>
      {responsesInForce.length ? (
        <ul aria-label="Responses in force">
          {responsesInForce.map((r) => (
            <li key={`${r.response}:${r.target}`}>
              {r.response.replace(/_/g, ' ')}: {r.target}
            </li>
          ))}
        </ul>
      ) : (
        <p class="hint">None: nothing this incident set is still in force.</p>
      )}
      <h2>Timeline</h2>
      <ol class="timeline" aria-label="Timeline">
        {timeline.map((e) => (
          <li key={e.id} data-kind={e.kind}>
            <span class="hint">{when(e.at)}</span> <Badge value={e.kind} /> {e.summary}{' '}
            <span class="hint">({e.actor})</span>
          </li>
        ))}
      </ol>
      <ErrorBox error={act.error} />
      {open ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void act.run('notes');
          }}
        >
          <Field label="Note" id="incident-note" hint="Added to the timeline, and kept with an acknowledge or resolve.">
            <textarea id="incident-note" maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </Field>
          <div class="actions">
            <button type="submit" disabled={act.busy || !note}>
              Add note
            </button>
            {incident.status === 'open' ? (
              <button type="button" disabled={act.busy} onClick={() => void act.run('ack')}>
                Acknowledge
              </button>
            ) : null}
            <label class="check">
              <input type="checkbox" checked={revert} onChange={(e) => setRevert(e.currentTarget.checked)} />
              Undo its automatic responses on resolve
            </label>
            <ConfirmButton
              question={`Resolve this incident${undo}?`}
              busy={act.busy}
              onConfirm={() => act.run('resolve')}
            >
              Resolve
            </ConfirmButton>
          </div>
        </form>
      ) : null}
    </main>
  );
}
