import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import {
  Badge,
  Choice,
  ConfirmButton,
  ErrorBox,
  FormSubmit,
  FormTitle,
  ListTable,
  Loading,
  Mono,
  Notice,
  TextField,
  Title,
  submitIfConfirmed,
  useAction,
  useApi,
  when,
} from '../ui.tsx';
import type { Items, SessionView, UserView } from '../types.ts';

const ROLES = ['owner', 'admin', 'operator', 'approver', 'viewer'];

/** One user: their role (owners change it), their active sessions with an End each, and disabling them. */
function UserPanel(props: { user: UserView; onChanged: (message: string) => void }) {
  const { user } = props;
  const sessions = useApi<Items<SessionView>>(`/admin/users/${user.id}/sessions`);
  const [role, setRole] = useState(user.role);
  const act = useAction(async (method: string, path: string, body: unknown, message: string) => {
    await api(method, path, body);
    sessions.reload();
    props.onChanged(message);
    return message;
  });
  const changeRole = submitIfConfirmed(
    () => `Make ${user.username} ${role}? Their sessions end; they sign in again with the new role.`,
    () => act.run('POST', `/admin/users/${user.id}/role`, { role }, `${user.username} is now ${role}.`),
  );
  return (
    <section class="card" aria-label={`User ${user.username}`}>
      <FormTitle>User {user.username}</FormTitle>
      <ErrorBox error={act.error ?? sessions.error} />
      {!user.disabled ? (
        <form class="filters" onSubmit={changeRole} aria-label={`Role of ${user.username}`}>
          <Choice label="Role" id={`role-${user.id}`} value={role} options={ROLES} onChange={setRole} />
          <button type="submit" disabled={act.busy || role === user.role}>
            Change role
          </button>
        </form>
      ) : null}
      <ListTable
        caption={`Active sessions of ${user.username}`}
        head={['Started', 'Last seen', 'Ends', 'Address', 'Browser', '']}
        items={sessions.data?.items}
      >
        {(s) => (
          <tr key={s.id}>
            <td>{when(s.createdAt)}</td>
            <td>{when(s.lastSeenAt)}</td>
            <td>{when(s.expiresAt)}</td>
            <td>
              <Mono>{s.ip}</Mono>
            </td>
            <td>{s.userAgent ?? '—'}</td>
            <td>
              <ConfirmButton
                question={`End the session of ${user.username} started ${when(s.createdAt)} from ${s.ip}?`}
                busy={act.busy}
                tone="danger"
                onConfirm={() =>
                  act.run(
                    'DELETE',
                    `/admin/users/${user.id}/sessions/${s.id}`,
                    undefined,
                    `Session of ${user.username} ended.`,
                  )
                }
              >
                End session<span class="sr-only"> started {when(s.createdAt)}</span>
              </ConfirmButton>
            </td>
          </tr>
        )}
      </ListTable>
      {!user.disabled ? (
        <ConfirmButton
          question={`Disable ${user.username}? They cannot sign in again and every session of theirs ends.`}
          busy={act.busy}
          tone="danger"
          onConfirm={() => act.run('POST', `/admin/users/${user.id}/disable`, undefined, `${user.username} disabled.`)}
        >
          Disable {user.username}
        </ConfirmButton>
      ) : null}
    </section>
  );
}

function NewUserForm(props: { onCreated: (message: string) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState('viewer');
  const create = useAction(async () => {
    await api('POST', '/admin/users', { username, password, role });
    props.onCreated(`User ${username} created.`);
    setUsername('');
    setPassword('');
    return username;
  });
  const submit = submitIfConfirmed(() => `Create ${role} ${username}?`, create.run);
  return (
    <form class="card" onSubmit={submit} aria-label="New user">
      <h2>New user</h2>
      <TextField
        label="Username"
        id="user-name"
        required
        maxLength={128}
        autocomplete="off"
        value={username}
        onValue={setUsername}
      />
      <TextField
        label="Initial password"
        id="user-password"
        hint="Share it privately; they can change it once signed in."
        type="password"
        required
        autocomplete="new-password"
        value={password}
        onValue={setPassword}
      />
      <Choice label="Role" id="user-role" value={role} options={ROLES} onChange={setRole} />
      <FormSubmit label="Create user" tone="primary" action={create} />
    </form>
  );
}

/** Users with their roles; one user's sessions (end one), role and disabling; a new user. */
export function UsersPage() {
  const { data, error, reload } = useApi<Items<UserView>>('/admin/users');
  const [open, setOpen] = useState<string | null>(null);
  const [done, setDone] = useState('');
  const changed = (message: string) => {
    setDone(message);
    reload();
  };
  const selected = data?.items.find((u) => u.id === open);
  return (
    <main>
      <Title>Users and sessions</Title>
      <ErrorBox error={error} />
      {done ? <Notice>{done}</Notice> : null}
      <Loading data={data} error={error} />
      <ListTable caption="Users" head={['Username', 'Role', 'State', 'Since', '']} items={data?.items}>
        {(u) => (
          <tr key={u.id}>
            <td>{u.username}</td>
            <td>{u.role}</td>
            <td>
              <Badge value={u.disabled ? 'disabled' : 'active'} />
            </td>
            <td>{when(u.createdAt)}</td>
            <td>
              <button type="button" aria-expanded={open === u.id} onClick={() => setOpen(open === u.id ? null : u.id)}>
                Sessions and role<span class="sr-only"> of {u.username}</span>
              </button>
            </td>
          </tr>
        )}
      </ListTable>
      {selected ? <UserPanel key={selected.id + selected.role} user={selected} onChanged={changed} /> : null}
      <NewUserForm onCreated={changed} />
    </main>
  );
}
