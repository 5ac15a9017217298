import { useEffect, useState } from 'preact/hooks';
import { ApiError, RawBody, api } from '../api.ts';
import type { DryRun, LintFinding, PoliciesList, PolicyLint, PolicyVersion } from '../types.ts';
import { Badge, ErrorBox, Facts, Field, Mono, Notice, Table, Title, useAction, useApi, when } from '../ui.tsx';

type Finding = LintFinding;
interface LintState {
  hash: string | null;
  errors: Finding[];
  warnings: Finding[];
  checking: boolean;
}

const REPLAY_LAST = 500;

/**
 * Policies: the active version, every version, and an editor that lints as the operator types (nothing is written).
 * Activating takes two steps: a dry-run replay of recent intents shows exactly which decisions would change, then
 * upload and activate. A text with lint errors, or one not dry-run as it stands, cannot be activated.
 */
export function PoliciesPage() {
  const list = useApi<PoliciesList>('/admin/policies?limit=20');
  const activeVersion: number | null = list.data?.active?.version ?? null;
  const active = useApi<PolicyVersion>(activeVersion ? `/admin/policies/${activeVersion}` : null);
  const [text, setText] = useState<string | null>(null);
  const [lint, setLint] = useState<LintState>({ hash: null, errors: [], warnings: [], checking: false });
  const dryRun = useAction((policy: string) =>
    api<DryRun>('POST', '/admin/policies/dry-run', { policy, replay: { last: REPLAY_LAST } }),
  );
  const activate = useAction(async (policy: string) => {
    const uploaded = await api<{ version: number }>('POST', '/admin/policies', new RawBody(policy, 'application/yaml'));
    const done = await api<{ version: number }>('POST', `/admin/policies/${uploaded.version}/activate`);
    list.reload();
    return done;
  });

  useEffect(() => {
    if (text === null && active.data?.content) setText(active.data.content);
  }, [active.data]);

  // Lint as you type: a short pause after the last keystroke, then POST /admin/policies/lint (writes nothing).
  useEffect(() => {
    if (!text?.trim()) return;
    setLint((l) => ({ ...l, checking: true }));
    let live = true;
    const timer = setTimeout(() => {
      api<{ hash: string; lint: PolicyLint }>('POST', '/admin/policies/lint', {
        policy: text,
      }).then(
        (r) => live && setLint({ hash: r.hash, errors: r.lint.errors, warnings: r.lint.warnings, checking: false }),
        (e: unknown) => {
          if (!live) return;
          const issues = e instanceof ApiError ? ((e.details?.issues as Finding[] | undefined) ?? []) : [];
          const errors = issues.length
            ? issues
            : [{ code: e instanceof ApiError ? e.code : 'error', message: String((e as Error).message) }];
          setLint({ hash: null, errors, warnings: [], checking: false });
        },
      );
    }, 350);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [text]);

  const dry = dryRun.result;
  const dryCurrent = dry && lint.hash !== null && dry.hash === lint.hash;
  const unchanged = lint.hash !== null && lint.hash === list.data?.active?.hash;
  const canActivate = !lint.checking && lint.hash !== null && lint.errors.length === 0 && dryCurrent && !unchanged;
  const why = lint.checking
    ? 'Checking…'
    : lint.errors.length
      ? 'Fix the lint errors first.'
      : unchanged
        ? 'This text is the active version.'
        : !dryCurrent
          ? 'Run the dry-run on this text first.'
          : 'Ready to activate.';

  return (
    <main>
      <Title>Policies</Title>
      <ErrorBox error={list.error} />
      {list.data ? (
        <Facts
          label="Active policy"
          rows={[
            [
              'Active version',
              list.data.active ? <strong data-testid="active-version">{list.data.active.version}</strong> : 'none',
            ],
            ['Hash', <Mono>{list.data.active?.hash}</Mono>],
            [
              'Activated',
              list.data.active ? `${when(list.data.active.activatedAt)} by ${list.data.active.activatedBy}` : null,
            ],
            ['This gateway decides with', `version ${list.data.loaded.version}`],
          ]}
        />
      ) : null}
      <section aria-labelledby="editor-h">
        <h2 id="editor-h">Edit</h2>
        <Field
          label="Policy set (YAML)"
          id="policy-text"
          hint="Linted as you type; nothing is saved until you activate."
        >
          <textarea
            id="policy-text"
            class="code"
            rows={18}
            spellcheck={false}
            aria-describedby="policy-text-hint lint-summary"
            value={text ?? ''}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </Field>
        <div id="lint-summary" role="status" aria-live="polite" data-testid="lint-summary">
          {lint.checking ? 'Checking…' : `${lint.errors.length} error(s), ${lint.warnings.length} warning(s)`}
        </div>
        {[
          ...lint.errors.map((f) => ({ ...f, severity: 'error' })),
          ...lint.warnings.map((f) => ({ ...f, severity: 'warning' })),
        ].length ? (
          <ul class="findings" aria-label="Lint findings">
            {lint.errors.map((f, i) => (
              <li class="finding error" key={`e${i}`}>
                <strong>error</strong> <code>{f.code ?? f.path}</code> {f.rule ? `(${f.rule}) ` : ''}
                {f.message}
              </li>
            ))}
            {lint.warnings.map((f, i) => (
              <li class="finding warning" key={`w${i}`}>
                <strong>warning</strong> <code>{f.code}</code> {f.rule ? `(${f.rule}) ` : ''}
                {f.message}
              </li>
            ))}
          </ul>
        ) : null}
        <div class="actions">
          <button
            type="button"
            disabled={dryRun.busy || lint.hash === null || text === null}
            onClick={() => text !== null && void dryRun.run(text)}
          >
            Dry-run against the last {REPLAY_LAST} intents
          </button>
          <button
            type="button"
            class="primary"
            disabled={!canActivate || activate.busy}
            aria-describedby="activate-why"
            onClick={() => text !== null && void activate.run(text)}
          >
            Activate
          </button>
          <span id="activate-why" class="hint">
            {why}
          </span>
        </div>
        <ErrorBox error={dryRun.error} />
        <ErrorBox error={activate.error} />
        {activate.result ? <Notice>Activated version {activate.result.version}.</Notice> : null}
      </section>
      {dry?.replay ? (
        <section aria-labelledby="diff-h">
          <h2 id="diff-h">Dry-run: decisions that would change</h2>
          <p data-testid="dry-run-totals">
            {dry.replay.totals.evaluated} intents replayed: {dry.replay.totals.changed} would change,{' '}
            {dry.replay.totals.unchanged} unchanged.
          </p>
          <Table
            caption="Decisions that would change"
            head={['Intent', 'Agent', 'Now', 'With this text']}
            empty={!dry.replay.changes.length}
          >
            {dry.replay.changes.map((c) => (
              <tr key={c.intentId}>
                <td>
                  <Mono>{c.intentId}</Mono>
                </td>
                <td>
                  <Mono>{c.agentId}</Mono>
                </td>
                <td>
                  <Badge value={c.before.action} /> {c.before.policy}
                </td>
                <td>
                  <Badge value={c.after.action} /> {c.after.policy}
                </td>
              </tr>
            ))}
          </Table>
        </section>
      ) : null}
      {list.data ? (
        <Table caption="Versions" head={['Version', 'Author', 'Created', 'Lint', '']}>
          {list.data.items.map((v) => (
            <tr key={v.version}>
              <td>{v.version}</td>
              <td>
                <Mono>{v.author}</Mono>
              </td>
              <td>{when(v.createdAt)}</td>
              <td>
                {v.lint.errors} errors, {v.lint.warnings} warnings
              </td>
              <td>{v.active ? <Badge value="active" /> : null}</td>
            </tr>
          ))}
        </Table>
      ) : null}
    </main>
  );
}
