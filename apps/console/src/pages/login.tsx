import { useState } from 'preact/hooks';
import { login } from '../api.ts';
import { ErrorBox, TextField, Title, type Submit } from '../ui.tsx';

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
        <TextField
          label="Username"
          id="username"
          name="username"
          autocomplete="username"
          required
          value={username}
          onValue={setUsername}
        />
        <TextField
          label="Password"
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onValue={setPassword}
        />
        <TextField
          label="Authenticator code (TOTP)"
          id="totp"
          hint="Six digits from your authenticator app, if enrolled."
          name="totp"
          inputMode="numeric"
          autocomplete="one-time-code"
          pattern="[0-9]{6}"
          maxLength={6}
          value={totp}
          onValue={setTotp}
        />
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
