import type { ComponentChildren, PartialInputHTMLAttributes } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from './api.ts';
import { BASE, navigate } from './router.ts';
import type { Items } from './types.ts';

/** An in-console link: a real <a href> (open in a new tab works), navigated in place on a plain click. */
export function Link(props: { to: string; children: ComponentChildren; class?: string; current?: boolean }) {
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.to);
  };
  return (
    <a
      href={`${BASE}${props.to}`}
      onClick={onClick}
      class={props.class}
      aria-current={props.current ? 'page' : undefined}
    >
      {props.children}
    </a>
  );
}

/** A detail page's way back to its list, above its title. */
export function BackLink(props: { to: string; label: string }) {
  return (
    <p>
      <Link to={props.to}>{`← ${props.label}`}</Link>
    </p>
  );
}

/** A heading that takes focus when it first shows, so that keyboard and screen-reader users start at it. */
function FocusedHeading(props: { tag: 'h1' | 'h3'; children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const Tag = props.tag;
  return (
    <Tag tabIndex={-1} ref={ref}>
      {props.children}
    </Tag>
  );
}

/** A page's title: focused when the page opens so that keyboard and screen-reader users start at the top. */
export function Title(props: { children: ComponentChildren }) {
  return <FocusedHeading tag="h1">{props.children}</FocusedHeading>;
}

/** A form's heading, focused when the form opens in place (an edit form below a table), so focus follows it. */
export function FormTitle(props: { children: ComponentChildren }) {
  return <FocusedHeading tag="h3">{props.children}</FocusedHeading>;
}

export function ErrorBox(props: { error: unknown }) {
  if (!props.error) return null;
  const e = props.error;
  const code = e instanceof ApiError ? e.code : 'error';
  const message = e instanceof Error ? e.message : 'Something went wrong.';
  return (
    <p class="error" role="alert">
      <code>{code}</code> {message}
    </p>
  );
}

export function Notice(props: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {props.children}
    </p>
  );
}

/** "Loading…" while a load has answered neither its data nor an error. */
export function Loading(props: { data: unknown; error: unknown }) {
  return props.data || props.error ? null : <Notice>Loading…</Notice>;
}

/** A page whose data has not come: its title, then the load's error or "Loading…". */
export function PageLoading(props: { title: string; error: unknown }) {
  return (
    <main>
      <Title>{props.title}</Title>
      <ErrorBox error={props.error} />
      <Loading data={null} error={props.error} />
    </main>
  );
}

/** Load `path` (re-loaded when it changes, or on `reload()`); answers the data, the error and whether it is loading. */
export function useApi<T>(path: string | null) {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({
    data: null,
    error: null,
    loading: path !== null,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>('GET', path).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: unknown) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** A list read `limit` at a time and narrowed by a status (empty: any); answers the load, the status and its setter. */
export function useStatusList<T>(path: string, limit: number, initialStatus = '') {
  const [status, setStatus] = useState(initialStatus);
  const list = useApi<Items<T>>(`${path}?limit=${limit}${status ? `&status=${status}` : ''}`);
  return { ...list, status, setStatus };
}

/** Run a write; answers [run, busy, error, result]. */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<R | null>(null);
  const run = async (...args: A): Promise<R | null> => {
    setBusy(true);
    setError(null);
    try {
      const r = await fn(...args);
      setResult(r);
      return r;
    } catch (e) {
      setError(e);
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, result, setResult };
}

/**
 * A form's submit button, disabled while its write runs (or while the form is not ready), with the write's refusal
 * below it and, where given, what to say once it went through.
 */
export function FormSubmit(props: {
  label: ComponentChildren;
  action: { busy: boolean; error: unknown; result: unknown };
  tone?: 'primary' | 'danger';
  ready?: boolean;
  done?: ComponentChildren;
}) {
  return (
    <>
      <button type="submit" class={props.tone} disabled={props.action.busy || props.ready === false}>
        {props.label}
      </button>
      <ErrorBox error={props.action.error} />
      {props.done && props.action.result ? <Notice>{props.done}</Notice> : null}
    </>
  );
}

/** A labelled field. */
export function Field(props: { label: string; id: string; hint?: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint ? (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      ) : null}
    </div>
  );
}

/** What a text field passes on to its input as it is. */
export type InputAttributes = Pick<
  PartialInputHTMLAttributes<HTMLInputElement>,
  'name' | 'required' | 'maxLength' | 'min' | 'max' | 'pattern' | 'inputMode' | 'autocomplete'
> &
  ({ type?: 'text' } | { type: 'password' } | { type: 'number' } | { type: 'email' } | { type: 'url' });

/** A labelled one-line input bound to a string; a hint is shown below it and described to screen readers. */
export function TextField(
  props: InputAttributes & {
    label: string;
    id: string;
    hint?: string;
    value: string;
    onValue: (value: string) => void;
  },
) {
  const { label, id, hint, value, onValue, ...attributes } = props;
  return (
    <Field label={label} id={id} hint={hint}>
      <input
        id={id}
        {...(hint ? { 'aria-describedby': `${id}-hint` } : {})}
        {...attributes}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
    </Field>
  );
}

/** A labelled select of fixed options; an empty option shows as `empty` (e.g. "any"). */
export function Choice(props: {
  label: string;
  id: string;
  value: string;
  options: readonly string[];
  onChange: (value: string) => void;
  empty?: string;
}) {
  return (
    <Field label={props.label} id={props.id}>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map((o) => (
          <option value={o} key={o}>
            {o || props.empty}
          </option>
        ))}
      </select>
    </Field>
  );
}

/** The status filter above a list from useStatusList (labelled Status unless said): its statuses, the empty one "any". */
export function StatusFilter(props: {
  label?: string;
  id: string;
  options: readonly string[];
  list: { status: string; setStatus: (status: string) => void };
}) {
  return (
    <div class="filters">
      <Choice
        label={props.label ?? 'Status'}
        id={props.id}
        value={props.list.status}
        options={props.options}
        empty="any"
        onChange={props.list.setStatus}
      />
    </div>
  );
}

/** Term/value rows; values wrap (addresses and digests are long on a phone). */
export function Facts(props: { rows: [string, ComponentChildren][]; label?: string }) {
  return (
    <dl class="facts" aria-label={props.label}>
      {props.rows.map(([term, value]) => (
        <div class="fact" key={term}>
          <dt>{term}</dt>
          <dd>{value ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A decision's reasons: each stable code with its sentence. */
export function Reasons(props: { reasons: { code: string; message: string }[] | undefined }) {
  return (
    <ul class="plain">
      {(props.reasons ?? []).map((r) => (
        <li key={r.code}>
          <code>{r.code}</code> {r.message}
        </li>
      ))}
    </ul>
  );
}

export function Mono(props: { children: ComponentChildren; testid?: string }) {
  return (
    <code class="mono" data-testid={props.testid}>
      {props.children}
    </code>
  );
}

const STATUS_TONE: Record<string, string> = {
  confirmed: 'good',
  approved: 'good',
  auto_approve: 'good',
  green: 'good',
  passed: 'good',
  active: 'good',
  resolved: 'good',
  pending: 'warn',
  pending_approval: 'warn',
  require_human_approval: 'warn',
  yellow: 'warn',
  acknowledged: 'warn',
  orange: 'alert',
  submitted: 'info',
  signed: 'info',
  open: 'alert',
  rejected: 'bad',
  reject: 'bad',
  failed: 'bad',
  expired: 'bad',
  red: 'bad',
  engaged: 'bad',
  quarantined: 'alert',
  hardened: 'good',
  needs_attention: 'alert',
  pass: 'good',
  fail: 'bad',
  delivered: 'good',
  dead: 'bad',
};

export function Badge(props: { value: string | null | undefined }) {
  const value = props.value ?? '—';
  return <span class={`badge tone-${STATUS_TONE[value] ?? 'plain'}`}>{value.replace(/_/g, ' ')}</span>;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function usd(value: string | null | undefined): string {
  if (value === null || value === undefined) return 'not priced';
  const n = Number(value);
  return Number.isFinite(n)
    ? n.toLocaleString('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 })
    : `${value} USD`;
}

/** Seconds until `iso`, ticking every second; "expired" once passed. */
export function TimeLeft(props: { until: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, []);
  const left = Math.floor((Date.parse(props.until) - now) / 1000);
  if (left <= 0) return <span class="badge tone-bad">expired</span>;
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  return (
    <span>
      {h > 0 ? `${h} h ` : ''}
      {m} min {s} s
    </span>
  );
}

/** A table that scrolls sideways on a phone instead of squeezing its columns. */
export function Table(props: { caption: string; head: string[]; children: ComponentChildren; empty?: boolean }) {
  return (
    <div class="table-wrap" role="region" aria-label={props.caption} tabIndex={0}>
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.head.map((h) => (
              <th scope="col" key={h}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.empty ? (
            <tr>
              <td colSpan={props.head.length}>Nothing here.</td>
            </tr>
          ) : (
            props.children
          )}
        </tbody>
      </table>
    </div>
  );
}

/** A list the page loads, as a table: its children draw one row per item; nothing at all until the list has come. */
export function ListTable<T>(props: {
  caption: string;
  head: string[];
  items: readonly T[] | null | undefined;
  children: (item: T) => ComponentChildren;
}) {
  const { items } = props;
  if (!items) return null;
  return (
    <Table caption={props.caption} head={props.head} empty={!items.length}>
      {items.map((item) => props.children(item))}
    </Table>
  );
}

/** A form submit event (its default is prevented by every handler: the console sends JSON itself). */
export type Submit = Event;

/** Every write asks first, saying exactly what will happen; answers whether the user agreed. */
export function confirmed(what: string): boolean {
  return window.confirm(what);
}

/** A form's submit handler: asks `question()` first and runs `run` only if the user agrees. */
export function submitIfConfirmed(question: () => string, run: () => unknown): (event: Submit) => void {
  return (event) => {
    event.preventDefault();
    if (confirmed(question())) void run();
  };
}

/**
 * A button for a write that asks `question` first and runs `onConfirm` only if the user agrees; disabled while `busy`
 * (its write, or another on the same page, is running).
 */
export function ConfirmButton(props: {
  question: string;
  onConfirm: () => unknown;
  busy: boolean;
  tone?: 'danger';
  children: ComponentChildren;
}) {
  return (
    <button
      type="button"
      class={props.tone}
      disabled={props.busy}
      onClick={() => confirmed(props.question) && void props.onConfirm()}
    >
      {props.children}
    </button>
  );
}

/** A secret the API shows once (a new API key): a copy button, a warning, and a dismissal once it is stored. */
export function ShownOnce(props: { label: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  const copy = () =>
    navigator.clipboard.writeText(props.secret).then(
      () => setCopied('yes'),
      () => setCopied('no'),
    );
  return (
    <section class="banner warn once" role="alert" aria-label={props.label}>
      <p>{props.label}, shown once: store it now. The gateway keeps only its hash and cannot show it again.</p>
      <Mono testid="new-key">{props.secret}</Mono>
      <div class="actions">
        <button type="button" class="primary" onClick={() => void copy()}>
          Copy key
        </button>
        <button type="button" onClick={props.onDone}>
          I have stored it
        </button>
        <span role="status">
          {copied === 'yes' ? 'Copied.' : copied === 'no' ? 'Copying failed: select the key and copy it.' : ''}
        </span>
      </div>
    </section>
  );
}
