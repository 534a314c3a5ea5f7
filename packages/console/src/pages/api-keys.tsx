import type { ApiKeySummary } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { get, inOrganization, post, remove } from '../api.js';
import { Button, CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { SandboxSelect, useSandboxes } from '../organization-data.js';
import { useSession } from '../session.js';

interface CreatedKey {
  id: string;
  name: string;
  key: string;
}

/** The organization's API keys: created (shown once, with a copy button and a curl example) and revoked by admins. */
export function ApiKeysPage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: ['api-keys', organization],
    queryFn: () => get<{ api_keys: ApiKeySummary[] }>(inOrganization('/admin/v1/api-keys', organization)),
  });
  const sandboxes = useSandboxes();
  const [name, setName] = useState('');
  const [sandbox, setSandbox] = useState('default');
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['api-keys', organization] });
  const create = useMutation({
    mutationFn: () => post<CreatedKey>(inOrganization('/admin/v1/api-keys', organization), { name, sandbox }),
    onSuccess: async (key) => {
      setCreated(key);
      setName('');
      await refresh();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => remove(inOrganization(`/admin/v1/api-keys/${id}`, organization)), onSuccess: refresh });
  return (
    <>
      <PageTitle description="A key runs code in its sandbox config's sandboxes; it is shown once, when made.">API keys</PageTitle>
      {created && <ShownOnce created={created} onDone={() => setCreated(null)} />}
      <ErrorMessage error={keys.error ?? revoke.error} />
      <Table
        caption="API keys"
        headers={['Name', 'Key', 'Sandbox config', 'Last used', 'State', '']}
        rows={(keys.data?.api_keys ?? []).map((key) => [
          key.name,
          <code key="prefix">{key.display_prefix}</code>,
          sandboxes.data?.sandboxes.find((candidate) => candidate.id === key.sandbox_config_id)?.name ?? key.sandbox_config_id,
          key.last_used_at ? new Date(key.last_used_at).toLocaleString() : 'never',
          key.revoked_at ? 'revoked' : 'active',
          can('admin') && !key.revoked_at ? (
            <Button key="revoke" tone="danger" onClick={() => revoke.mutate(key.id)} aria-label={`Revoke ${key.name}`}>
              Revoke
            </Button>
          ) : null,
        ])}
        empty="No API key yet."
      />
      {can('admin') && (
        <CreateForm submitLabel="Create API key" pending={create.isPending} error={create.error} onSubmit={() => create.mutate()}>
          <Field label="Key name">
            <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
          </Field>
          <Field label="Sandbox config">
            <SandboxSelect value={sandbox} onChange={setSandbox} />
          </Field>
        </CreateForm>
      )}
    </>
  );
}

/** A new key, the only time it is shown: copy it, and how to call with it. */
function ShownOnce(props: { created: CreatedKey; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const curl = `curl -s ${window.location.origin}/v1/sandbox/execute -H 'Authorization: Bearer ${props.created.key}' -H 'Content-Type: application/json' -d '{"code": "print(1)"}'`;
  const copy = async () => {
    await navigator.clipboard.writeText(props.created.key);
    setCopied(true);
  };
  return (
    <section aria-label="New API key" className="mb-6 rounded border border-amber-300 bg-amber-50 p-4">
      <p className="mb-2 font-medium">The key "{props.created.name}", shown this once: keep it now.</p>
      <div className="flex flex-wrap items-center gap-2">
        <code data-testid="new-key" className="rounded bg-white px-2 py-1 break-all">
          {props.created.key}
        </code>
        <Button onClick={() => void copy()}>{copied ? 'Copied' : 'Copy'}</Button>
        <Button onClick={props.onDone}>Done</Button>
      </div>
      <pre className="mt-3 overflow-x-auto rounded bg-slate-900 p-3 text-xs text-slate-100">{curl}</pre>
    </section>
  );
}
