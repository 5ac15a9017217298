import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { hasSession, logout, whenLoginRequired } from './api.ts';
import { match, navigate, useLocation } from './router.ts';
import { Link, Title } from './ui.tsx';
import { LoginPage } from './pages/login.tsx';
import { ApprovalPage, ApprovalsPage } from './pages/approvals.tsx';
import { KillSwitchPage } from './pages/killswitch.tsx';
import { IntentPage, IntentsPage } from './pages/intents.tsx';
import { PoliciesPage } from './pages/policies.tsx';
import { MoneyPage } from './pages/money.tsx';
import { AlertsPage } from './pages/alerts.tsx';
import { IncidentPage, IncidentsPage } from './pages/incidents.tsx';
import { AgentsPage } from './pages/agents.tsx';
import { AuditPage } from './pages/audit.tsx';
import { SecurityPage } from './pages/security.tsx';
import { NotificationsPage } from './pages/notifications.tsx';
import { UsersPage } from './pages/users.tsx';

const NAV: [string, string][] = [
  ['/approvals', 'Approvals'],
  ['/intents', 'Intents'],
  ['/killswitch', 'Kill switch'],
  ['/policies', 'Policies'],
  ['/money', 'Money'],
  ['/incidents', 'Incidents'],
  ['/alerts', 'Alerts'],
  ['/agents', 'Agents'],
  ['/audit', 'Audit'],
  ['/notifications', 'Notifications'],
  ['/users', 'Users'],
  ['/security', 'Security'],
];

function Page(props: { path: string; query: URLSearchParams }) {
  const { path, query } = props;
  let m = match('/approvals/:id', path);
  if (m) return <ApprovalPage id={m.id!} focusDecision={query.get('decision')} />;
  m = match('/intents/:id', path);
  if (m) return <IntentPage id={m.id!} />;
  m = match('/incidents/:id', path);
  if (m) return <IncidentPage id={m.id!} />;
  switch (path) {
    case '/':
    case '/approvals':
      return <ApprovalsPage />;
    case '/intents':
      return <IntentsPage />;
    case '/killswitch':
      return <KillSwitchPage />;
    case '/policies':
      return <PoliciesPage />;
    case '/money':
      return <MoneyPage />;
    case '/incidents':
      return <IncidentsPage />;
    case '/alerts':
      return <AlertsPage />;
    case '/agents':
      return <AgentsPage />;
    case '/audit':
      return <AuditPage />;
    case '/notifications':
      return <NotificationsPage />;
    case '/users':
      return <UsersPage />;
    case '/security':
      return <SecurityPage />;
    default:
      return (
        <main>
          <Title>Not found</Title>
          <p>
            No console page at this address. <Link to="/approvals">Approvals</Link>
          </p>
        </main>
      );
  }
}

function App() {
  const location = useLocation();
  const [signedIn, setSignedIn] = useState(hasSession());
  useEffect(() => whenLoginRequired(() => setSignedIn(false)), []);
  if (!signedIn)
    return (
      // After signing in, the page that was asked for opens (a notification's approval link, say).
      <LoginPage onDone={() => setSignedIn(true)} />
    );
  const section = `/${location.path.split('/')[1] ?? ''}`;
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <Link to="/approvals" class="brand">
          Clawd402
        </Link>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([to, label]) => (
              <li key={to}>
                <Link to={to} current={section === to || (section === '/' && to === '/approvals')}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="logout"
          onClick={() =>
            void logout().finally(() => {
              setSignedIn(false);
              navigate('/approvals', true);
            })
          }
        >
          Sign out
        </button>
      </header>
      <div id="content" class="content">
        <Page path={location.path} query={location.query} key={location.path} />
      </div>
    </>
  );
}

render(<App />, document.getElementById('app')!);
