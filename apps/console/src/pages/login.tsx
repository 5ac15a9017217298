import { useState } from 'preact/hooks';
import { login } from '../api.ts';
import { ErrorBox, Field, Title, type Submit } from '../ui.tsx';

/** Password and TOTP code; the session lives in httpOnly cookies afterwards (docs/console.md). */
export function LoginPage(props: { onDone: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Submit) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password, totp.trim());
      props.onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <Title>Sign in to the Clawd402 console</Title>
      <form onSubmit={(e) => void submit(e)} class="card">
        <Field label="Username" id="username">
          <input
            id="username"
            name="username"
            autocomplete="username"
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </Field>
        <Field label="Password" id="password">
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <Field label="Authenticator code (TOTP)" id="totp" hint="Six digits from your authenticator app, if enrolled.">
          <input
            id="totp"
            name="totp"
            inputMode="numeric"
            autocomplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            aria-describedby="totp-hint"
            value={totp}
            onInput={(e) => setTotp(e.currentTarget.value)}
          />
        </Field>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
