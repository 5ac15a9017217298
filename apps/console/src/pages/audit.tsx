import { useState } from 'preact/hooks';
import { Field, ErrorBox, Loading, Title, useApi, type Submit } from '../ui.tsx';
import { AuditTrail } from './intents.tsx';
import type { AuditPage as AuditPageView } from '../types.ts';

/** The audit log, newest first, with the chain segment read verified by the gateway (docs/audit.md). */
export function AuditPage() {
  const [subject, setSubject] = useState('');
  const [query, setQuery] = useState('limit=100');
  const { data, error } = useApi<AuditPageView>(`/admin/audit?${query}`);
  const apply = (e: Submit) => {
    e.preventDefault();
    setQuery(`limit=100${subject.trim() ? `&subject=${encodeURIComponent(subject.trim())}` : ''}`);
  };
  return (
    <main>
      <Title>Audit log</Title>
      <form class="filters" onSubmit={apply} aria-label="Filter the audit log">
        <Field label="Subject (e.g. intent:<id>, killswitch)" id="audit-subject">
          <input id="audit-subject" value={subject} onInput={(e) => setSubject(e.currentTarget.value)} />
        </Field>
        <button type="submit">Apply</button>
      </form>
      <ErrorBox error={error} />
      <Loading data={data} error={error} />
      {data ? <AuditTrail items={data.items} segment={data.segment} caption="Audit records" /> : null}
    </main>
  );
}
