import { constants, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CliError } from '../cli-error.ts';

/** One gateway's session as `clawd402 login` stores it. */
export interface StoredSession {
  username: string;
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (ISO 8601); the client refreshes before then. */
  accessExpiresAt: string;
}

interface SessionFile {
  version: 1;
  /** Keyed by the gateway's origin (`https://host:port`): a token is only ever sent to the origin that issued it. */
  sessions: Record<string, StoredSession>;
}

const FILE_NAME = 'session.json';

/** `$XDG_CONFIG_HOME/clawd402`, else `~/.config/clawd402`. */
export function configDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : null;
  return join(base ?? join(env.HOME || homedir(), '.config'), 'clawd402');
}

const insecure = (what: string): CliError =>
  new CliError(
    'token_file_insecure',
    `${what}; fix it (chmod 700 the directory, chmod 600 the file) or remove it and log in again`,
  );

/** The directory must be ours and closed to others (0700): otherwise another user could swap the file. */
async function checkDir(dir: string): Promise<void> {
  const st = await fs.lstat(dir);
  if (!st.isDirectory()) throw insecure(`${dir} is not a directory`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw insecure(`${dir} is not yours`);
  if ((st.mode & 0o077) !== 0) throw insecure(`${dir} has mode ${(st.mode & 0o777).toString(8)}, not 700`);
}

/**
 * The session file, read only when it is a plain file (not a symlink), owned by this user, with mode 0600, in a 0700
 * directory owned by this user. Anything looser is `token_file_insecure` and the tokens in it are not used.
 */
async function readFile(dir: string): Promise<SessionFile> {
  const path = join(dir, FILE_NAME);
  try {
    await checkDir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, sessions: {} };
    throw error;
  }
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { version: 1, sessions: {} };
    if (code === 'ELOOP') throw insecure(`${path} is a symbolic link`);
    throw new CliError('file_unreadable', `${path} cannot be read (${code ?? 'error'})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw insecure(`${path} is not a plain file`);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw insecure(`${path} is not yours`);
    if ((st.mode & 0o077) !== 0) throw insecure(`${path} has mode ${(st.mode & 0o777).toString(8)}, not 600`);
    const parsed = JSON.parse(await handle.readFile('utf8')) as SessionFile;
    if (parsed?.version !== 1 || typeof parsed.sessions !== 'object' || parsed.sessions === null)
      throw new CliError('file_unreadable', `${path} is not a clawd402 session file`);
    return parsed;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('file_unreadable', `${path} is not a clawd402 session file`);
  } finally {
    await handle.close();
  }
}

/** Write the file whole: a fresh 0600 file beside it (O_EXCL), then rename over it; the directory is made 0700. */
async function writeFile(dir: string, content: SessionFile): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await checkDir(dir);
  const temp = join(dir, `.${FILE_NAME}.${randomBytes(6).toString('hex')}`);
  const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(content, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, join(dir, FILE_NAME));
}

/** The operator's sessions, one per gateway origin, in the OS user's config directory. */
export class SessionStore {
  readonly dir: string;
  readonly path: string;

  constructor(env: NodeJS.ProcessEnv) {
    this.dir = configDir(env);
    this.path = join(this.dir, FILE_NAME);
  }

  async get(origin: string): Promise<StoredSession | null> {
    return (await readFile(this.dir)).sessions[origin] ?? null;
  }

  /** The origins there are sessions for (to pick the gateway when only one is known). */
  async origins(): Promise<string[]> {
    return Object.keys((await readFile(this.dir)).sessions);
  }

  async put(origin: string, session: StoredSession): Promise<void> {
    const file = await readFile(this.dir);
    file.sessions[origin] = session;
    await writeFile(this.dir, file);
  }

  async remove(origin: string): Promise<boolean> {
    const file = await readFile(this.dir);
    if (!(origin in file.sessions)) return false;
    delete file.sessions[origin];
    await writeFile(this.dir, file);
    return true;
  }
}
