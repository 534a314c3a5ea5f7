import { useQueryClient } from '@tanstack/react-query';
import { NavLink, Outlet } from 'react-router';
import { post } from './api.js';
import { useSession } from './session.js';

const PAGES = [
  { to: '/', label: 'Overview' },
  { to: '/sandboxes', label: 'Sandboxes' },
  { to: '/api-keys', label: 'API keys' },
  { to: '/playground', label: 'Playground' },
  { to: '/executions', label: 'Executions' },
  { to: '/webhooks', label: 'Webhooks' },
  { to: '/web', label: 'Web' },
  { to: '/storage', label: 'Storage' },
  { to: '/files', label: 'Files' },
  { to: '/connectors', label: 'Connectors' },
  { to: '/images', label: 'Images' },
  { to: '/members', label: 'Members' },
  { to: '/audit', label: 'Audit' },
  { to: '/settings', label: 'Settings' },
];

/** The frame of every signed-in page: navigation, the organization, who is signed in, sign-out. */
export function Layout(props: { onOrganization: (slug: string) => void }) {
  const { me, organization } = useSession();
  const queryClient = useQueryClient();
  const signOut = async () => {
    const answer = await post<{ end_session_url: string | null }>('/auth/logout');
    queryClient.clear();
    window.location.assign(answer.end_session_url ?? '/console/');
  };
  return (
    <div className="min-h-screen md:flex">
      <nav aria-label="Console" className="border-b border-slate-200 bg-white p-4 md:min-h-screen md:w-56 md:border-r md:border-b-0">
        <p className="mb-4 text-lg font-semibold">Airlock</p>
        <ul className="flex flex-wrap gap-2 md:flex-col">
          {PAGES.map((page) => (
            <li key={page.to}>
              <NavLink
                to={page.to}
                end={page.to === '/'}
                className={({ isActive }) => `block rounded px-3 py-1.5 ${isActive ? 'bg-slate-900 text-white' : 'hover:bg-slate-100'}`}
              >
                {page.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="flex-1">
        <header className="flex flex-wrap items-center justify-between gap-3 border-b border-slate-200 bg-white px-6 py-3">
          <label className="flex items-center gap-2 text-sm">
            Organization
            <select
              className="rounded border border-slate-300 px-2 py-1"
              value={organization}
              onChange={(event) => props.onOrganization(event.target.value)}
            >
              {me.organizations.map((candidate) => (
                <option key={candidate.id} value={candidate.slug}>
                  {candidate.name} ({candidate.role})
                </option>
              ))}
            </select>
          </label>
          <div className="flex items-center gap-3 text-sm">
            <span data-testid="actor">{me.actor}</span>
            <button type="button" className="rounded border border-slate-300 px-3 py-1 hover:bg-slate-100" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </header>
        <main className="p-6">
          <Outlet />
        </main>
      </div>
    </div>
  );
}
