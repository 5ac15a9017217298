import { api } from '../api.ts';
import { Badge, ErrorBox, Mono, Notice, Table, Title, useAction, useApi, when } from '../ui.tsx';
import type { AgentView, Items } from '../types.ts';

/** Agents and their API keys; rotate (the old key keeps working for the overlap) or revoke; a new key shows once. */
export function AgentsPage() {
  const { data, error, reload } = useApi<Items<AgentView>>('/admin/agents');
  const act = useAction(async (path: string) => {
    const r = await api<{ apiKey?: string }>('POST', path, {});
    reload();
    return r;
  });
  const issued = act.result?.apiKey;
  return (
    <main>
      <Title>Agents and keys</Title>
      <ErrorBox error={error ?? act.error} />
      {issued ? (
        <p class="banner warn" role="alert">
          New API key, shown once: <Mono testid="new-key">{issued}</Mono>
        </p>
      ) : null}
      {!data && !error ? <Notice>Loading…</Notice> : null}
      {data?.items.map((agent) => (
        <section key={agent.id} class="card">
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
                <td>
                  chains {k.scopes.chains?.join(', ') ?? 'any'}; types {k.scopes.types?.join(', ') ?? 'any'}
                </td>
                <td>{when(k.lastUsedAt)}</td>
                <td>{when(k.expiresAt)}</td>
                <td>{k.revokedAt ? <Badge value="revoked" /> : <Badge value="active" />}</td>
                <td class="row-actions">
                  {!k.revokedAt ? (
                    <>
                      <button
                        type="button"
                        disabled={act.busy}
                        onClick={() => void act.run(`/admin/keys/${k.id}/rotate`)}
                      >
                        Rotate<span class="sr-only"> key {k.keyId}</span>
                      </button>
                      <button
                        type="button"
                        class="danger"
                        disabled={act.busy}
                        onClick={() =>
                          window.confirm(`Revoke key ${k.keyId}?`) && void act.run(`/admin/keys/${k.id}/revoke`)
                        }
                      >
                        Revoke<span class="sr-only"> key {k.keyId}</span>
                      </button>
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </Table>
        </section>
      ))}
    </main>
  );
}
