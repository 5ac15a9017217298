import { api } from '../api.ts';
import { Badge, ErrorBox, ListTable, Loading, StatusFilter, Title, useAction, useStatusList, when } from '../ui.tsx';
import type { AlertView } from '../types.ts';

/** The filter of alerts and incidents, which go the same way: open, acknowledged, resolved (empty: any). */
export const ACK_RESOLVE_STATUSES = ['', 'open', 'acknowledged', 'resolved'];

/** Alerts, newest first; acknowledge or resolve each. */
export function AlertsPage() {
  const alerts = useStatusList<AlertView>('/admin/alerts', 100);
  const { data, error, reload } = alerts;
  const act = useAction(async (id: string, to: 'ack' | 'resolve') => {
    const r = await api('POST', `/admin/alerts/${id}/${to}`, {});
    reload();
    return r;
  });
  return (
    <main>
      <Title>Alerts</Title>
      <StatusFilter id="alert-status" options={ACK_RESOLVE_STATUSES} list={alerts} />
      <ErrorBox error={error ?? act.error} />
      <Loading data={data} error={error} />
      <ListTable caption="Alerts" head={['When', 'Severity', 'Summary', 'Status', 'Actions']} items={data?.items}>
        {(a) => (
          <tr key={a.id}>
            <td>{when(a.lastAt)}</td>
            <td>
              <Badge value={a.severity} />
            </td>
            <td>
              {a.summary}
              {a.occurrences > 1 ? ` (×${a.occurrences})` : ''}
            </td>
            <td>
              <Badge value={a.status} />
            </td>
            <td class="row-actions">
              {a.status === 'open' ? (
                <button type="button" disabled={act.busy} onClick={() => void act.run(a.id, 'ack')}>
                  Acknowledge<span class="sr-only"> {a.summary}</span>
                </button>
              ) : null}
              {a.status !== 'resolved' ? (
                <button type="button" disabled={act.busy} onClick={() => void act.run(a.id, 'resolve')}>
                  Resolve<span class="sr-only"> {a.summary}</span>
                </button>
              ) : null}
            </td>
          </tr>
        )}
      </ListTable>
    </main>
  );
}
