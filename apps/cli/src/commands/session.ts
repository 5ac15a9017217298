import { CliError } from '../cli-error.ts';
import type { Command } from '../command.ts';
import { GATEWAY_OPTION, GatewayClient, gatewayError } from '../gateway/gateway-client.ts';
import { ask, isInteractive, stdinLine } from '../gateway/prompt.ts';

interface LoginResult {
  gateway: string;
  username: string;
  expiresIn: number;
  sessionFile: string;
}

/** The password: line 1 of stdin with --password-stdin, else typed on the terminal without echo. */
async function password(fromStdin: boolean): Promise<string> {
  if (fromStdin) return stdinLine(0);
  if (!isInteractive())
    throw new CliError('usage', 'no terminal to type the password on: pass it on stdin with --password-stdin');
  return ask('password: ', true);
}

/** The TOTP code: line 2 of stdin with --password-stdin, else typed on the terminal; '' when there is none. */
async function totpCode(fromStdin: boolean): Promise<string> {
  if (fromStdin) return (await stdinLine(1)).trim();
  return isInteractive() ? (await ask('TOTP code: ', true)).trim() : '';
}

const login: Command<LoginResult> = {
  path: ['login'],
  summary: 'log in to a gateway with your password (and TOTP code); the session is kept in your config directory',
  details: [
    'The password is typed on the terminal without echo, or read from stdin with --password-stdin (line 1: the',
    'password; line 2: the TOTP code when your account has one). Neither is ever taken on the command line.',
    'The session is written to $XDG_CONFIG_HOME/clawd402/session.json (else ~/.config/clawd402/session.json) with',
    'mode 0600 in a 0700 directory; a file or directory open to other users is refused (token_file_insecure).',
  ].join('\n'),
  options: {
    ...GATEWAY_OPTION,
    username: { type: 'string', value: 'NAME', env: 'CLAWD402_USER', description: 'your username (asked if absent)' },
    'password-stdin': { type: 'boolean', description: 'read the password (and TOTP code) from stdin' },
  },
  async run(options, _out, env) {
    const client = await GatewayClient.open(options, env).catch((error: unknown) => {
      if (error instanceof CliError && error.code === 'not_logged_in')
        throw new CliError('config_missing', '--gateway (or CLAWD402_URL) is required');
      throw error;
    });
    const fromStdin = options['password-stdin'] === true;
    let username = typeof options.username === 'string' ? options.username : '';
    if (!username && isInteractive() && !fromStdin) username = (await ask('username: ')).trim();
    if (!username) throw new CliError('config_missing', '--username (or CLAWD402_USER) is required');
    const secret = await password(fromStdin);
    if (!secret) throw new CliError('usage', 'the password is empty');
    let answer = await client.post('/auth/login', { username, password: secret });
    if (answer.status === 401 && (answer.body as { code?: string } | null)?.code === 'totp_required') {
      const code = await totpCode(fromStdin);
      if (code) answer = await client.post('/auth/login', { username, password: secret, totp: code });
    }
    if (answer.status !== 200) {
      const error = gatewayError(answer.status, answer.body);
      if (answer.status === 401 || answer.status === 403)
        throw new CliError('login_failed', error.message, error.detail ? { detail: error.detail } : undefined);
      throw error;
    }
    const pair = answer.body as { access_token: string; refresh_token: string; expires_in: number };
    await client.saveLogin(username, pair);
    return {
      gateway: client.origin,
      username,
      expiresIn: pair.expires_in,
      sessionFile: client.sessionPath,
    };
  },
  render: (r) => [`logged in to ${r.gateway} as ${r.username} (session kept in ${r.sessionFile})`],
};

const logout: Command<{ gateway: string; loggedOut: boolean }> = {
  path: ['logout'],
  summary: 'end the session on the gateway and remove it from your config directory',
  options: { ...GATEWAY_OPTION },
  async run(options, _out, env) {
    const client = await GatewayClient.open(options, env);
    await client.session();
    try {
      await client.call('POST', '/auth/logout');
    } catch (error) {
      // A session the gateway already ended is still removed here; an unreachable gateway is reported (the session
      // would stay valid there until it expires).
      if (!(error instanceof CliError) || error.code !== 'session_expired') throw error;
    }
    await client.forget();
    return { gateway: client.origin, loggedOut: true };
  },
  render: (r) => [`logged out of ${r.gateway}`],
};

export const sessionCommands: Command[] = [login, logout] as Command[];
