import { Badge, ErrorBox, Loading, Title, useApi, when } from '../ui.tsx';
import type { SecurityStatus } from '../types.ts';

/** The hardening baseline scored item by item, failing items first, each with its evidence and what to fix. */
export function SecurityPage() {
  const { data, error, reload, loading } = useApi<SecurityStatus>('/admin/security-status');
  const checks = data ? [...data.checks.filter((c) => !c.ok), ...data.checks.filter((c) => c.ok)] : [];
  return (
    <main>
      <Title>Security status</Title>
      <ErrorBox error={error} />
      <Loading data={data} error={error} />
      {data ? (
        <>
          <p class={data.level === 'hardened' ? 'banner good' : 'banner warn'} data-testid="security-score">
            {data.score} of {data.total} checks pass: {data.level.replace(/_/g, ' ')}
          </p>
          <div class="actions">
            <span class="hint">As this gateway saw it at {when(data.generatedAt)}.</span>
            <button type="button" disabled={loading} onClick={reload}>
              Check again
            </button>
          </div>
          <ul class="checklist" aria-label="Checks">
            {checks.map((c) => (
              <li key={c.id} class={c.ok ? 'pass' : 'fail'} data-testid={`check-${c.id}`}>
                <h2>
                  <Badge value={c.ok ? 'pass' : 'fail'} /> {c.title}
                </h2>
                <p>
                  <span class="hint">Seen: </span>
                  {c.evidence}
                </p>
                {c.fix ? (
                  <p>
                    <span class="hint">To fix: </span>
                    {c.fix}
                  </p>
                ) : null}
                <p class="hint">
                  <code>{c.id}</code>
                </p>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </main>
  );
}
