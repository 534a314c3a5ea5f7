import type { AdminTokenSummary, OrganizationSummary, ServerNodeSummary, SessionSummary } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { get, patch, post, remove } from '../api.js';
import { Button, CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { RoleSelect, useOrganization } from '../organization-data.js';
import { useSession } from '../session.js';
import { AccountData, Organizations } from './organizations.js';

/**
 * The organization's settings and (for its owners) its export and erasure, the signed-in user's sessions, and (for
 * owners over every organization) the organizations, admin tokens and server nodes.
 */
export function SettingsPage() {
  const { me, can } = useSession();
  return (
    <>
      <PageTitle description="The organization's limits, audit retention and data; your sessions; organizations, admin tokens and server nodes.">Settings</PageTitle>
      <OrganizationSettings />
      {can('owner') && <AccountData />}
      <Sessions />
      {me.instance_role === 'owner' && <Organizations />}
      {me.instance_role === 'owner' && <AdminTokens />}
      {me.instance_role === 'owner' && <ServerNodes />}
    </>
  );
}

function OrganizationSettings() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const current = useOrganization();
  const [name, setName] = useState('');
  const [maxTimeout, setMaxTimeout] = useState('');
  const [auditDays, setAuditDays] = useState('');
  useEffect(() => {
    if (!current.data) return;
    setName(current.data.name);
    setMaxTimeout(String(current.data.max_timeout_seconds));
    setAuditDays(String(current.data.audit_retention_days));
  }, [current.data]);
  const save = useMutation({
    mutationFn: () =>
      patch<OrganizationSummary>(`/admin/v1/organizations/${encodeURIComponent(organization)}`, {
        name,
        max_timeout_seconds: Number(maxTimeout),
        audit_retention_days: Number(auditDays),
      }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['organization', organization] }),
  });
  if (current.error) return <ErrorMessage error={current.error} />;
  return (
    <section aria-label="Organization settings" className="mb-8">
      <h2 className="mb-2 text-lg font-medium">Organization</h2>
      {can('admin') ? (
        <CreateForm submitLabel="Save" pending={save.isPending} error={save.error} onSubmit={() => save.mutate()}>
          <Field label="Name">
            <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
          </Field>
          <Field label="Longest timeout (seconds)">
            <input className={inputClass} type="number" value={maxTimeout} onChange={(event) => setMaxTimeout(event.target.value)} />
          </Field>
          <Field label="Audit kept (days)">
            <input className={inputClass} type="number" value={auditDays} onChange={(event) => setAuditDays(event.target.value)} />
          </Field>
        </CreateForm>
      ) : (
        <p className="text-sm">
          {current.data?.name}: timeouts up to {current.data?.max_timeout_seconds} s, audit kept {current.data?.audit_retention_days} days.
        </p>
      )}
      {save.isSuccess && <p role="status" className="mt-2 text-sm text-green-800">Saved.</p>}
    </section>
  );
}

function Sessions() {
  const queryClient = useQueryClient();
  const sessions = useQuery({ queryKey: ['sessions'], queryFn: () => get<{ sessions: SessionSummary[] }>('/admin/v1/sessions') });
  const end = useMutation({ mutationFn: (id: string) => remove(`/admin/v1/sessions/${id}`), onSuccess: () => queryClient.invalidateQueries({ queryKey: ['sessions'] }) });
  return (
    <section aria-label="Your sessions" className="mb-8">
      <h2 className="mb-2 text-lg font-medium">Your sessions</h2>
      <ErrorMessage error={sessions.error ?? end.error} />
      <Table
        caption="Your sessions"
        headers={['Signed in', 'How', 'From', 'Ends by', '']}
        rows={(sessions.data?.sessions ?? []).map((session) => [
          new Date(session.created_at).toLocaleString(),
          session.method === 'oidc' ? 'identity provider' : 'one-time link',
          `${session.ip ?? ''} ${session.user_agent ?? ''}`,
          new Date(session.expires_at).toLocaleString(),
          session.current ? (
            'this one'
          ) : (
            <Button key="end" tone="danger" onClick={() => end.mutate(session.id)}>
              End
            </Button>
          ),
        ])}
        empty="No session: you signed in with an admin token."
      />
    </section>
  );
}

function AdminTokens() {
  const queryClient = useQueryClient();
  const tokens = useQuery({ queryKey: ['admin-tokens'], queryFn: () => get<{ admin_tokens: AdminTokenSummary[] }>('/admin/v1/admin-tokens') });
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [created, setCreated] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['admin-tokens'] });
  const create = useMutation({
    mutationFn: () => post<AdminTokenSummary & { token: string }>('/admin/v1/admin-tokens', { name, role }),
    onSuccess: async (token) => {
      setCreated(token.token);
      setName('');
      await refresh();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => remove(`/admin/v1/admin-tokens/${id}`), onSuccess: refresh });
  return (
    <section aria-label="Admin tokens" className="mb-8">
      <h2 className="mb-2 text-lg font-medium">Admin tokens</h2>
      {created && (
        <p className="mb-3 rounded border border-amber-300 bg-amber-50 p-3 text-sm">
          The new token, shown this once: <code data-testid="new-admin-token">{created}</code>
        </p>
      )}
      <ErrorMessage error={tokens.error ?? revoke.error} />
      <Table
        caption="Admin tokens"
        headers={['Name', 'Token', 'Role', 'Made by', 'Last used', '']}
        rows={(tokens.data?.admin_tokens ?? []).map((token) => [
          token.name,
          <code key="prefix">{token.display_prefix}</code>,
          token.role,
          token.created_by,
          token.last_used_at ? new Date(token.last_used_at).toLocaleString() : 'never',
          token.revoked_at ? (
            'revoked'
          ) : (
            <Button key="revoke" tone="danger" onClick={() => revoke.mutate(token.id)} aria-label={`Revoke token ${token.name}`}>
              Revoke
            </Button>
          ),
        ])}
        empty="No admin token."
      />
      <CreateForm submitLabel="Create admin token" pending={create.isPending} error={create.error} onSubmit={() => create.mutate()}>
        <Field label="Token name">
          <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
        </Field>
        <Field label="Token role">
          <RoleSelect value={role} onChange={setRole} />
        </Field>
      </CreateForm>
    </section>
  );
}

/** The server nodes sharing the database: when each started and last beat, and which are draining. */
function ServerNodes() {
  const nodes = useQuery({ queryKey: ['nodes'], queryFn: () => get<{ nodes: ServerNodeSummary[] }>('/admin/v1/nodes'), refetchInterval: 5000 });
  return (
    <section aria-label="Server nodes">
      <h2 className="mb-2 text-lg font-medium">Server nodes</h2>
      <ErrorMessage error={nodes.error} />
      <Table
        caption="Server nodes"
        headers={['Node', 'Reached at', 'Version', 'Started', 'Last beat', 'State']}
        rows={(nodes.data?.nodes ?? []).map((node) => [
          node.this_node ? `${node.id} (this console's)` : node.id,
          node.url ?? 'unreachable',
          node.version,
          new Date(node.started_at).toLocaleString(),
          new Date(node.heartbeat_at).toLocaleTimeString(),
          node.draining ? 'draining' : 'taking work',
        ])}
        empty="No node is listed."
      />
    </section>
  );
}
