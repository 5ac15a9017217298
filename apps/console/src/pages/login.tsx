import { useState } from 'preact/hooks';
import { login } from '../api.ts';
import { ErrorBox, TextField, Title, useAction, type Submit } from '../ui.tsx';

/** Password and TOTP code; the session lives in httpOnly cookies afterwards (docs/console.md). */
export function LoginPage(props: { onDone: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const signIn = useAction(async () => {
    await login(username, password, totp.trim());
    props.onDone();
  });
  const submit = (event: Submit) => {
    event.preventDefault();
    void signIn.run();
  };
  return (
    <main class="login">
      <Title>Sign in to the Clawd402 console</Title>
      <form onSubmit={submit} class="card">
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
        <ErrorBox error={signIn.error} />
        <button type="submit" class="primary" disabled={signIn.busy}>
          {signIn.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
