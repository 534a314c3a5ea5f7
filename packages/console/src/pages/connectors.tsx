import type { ConnectorSummary } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { get, inOrganization, patch, post, remove } from '../api.js';
import { Button, Choice, CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass, parseSettings } from '../components.js';
import { SandboxSelect } from '../organization-data.js';
import { useSession } from '../session.js';

const SETTINGS_EXAMPLE = '{\n  "host": "db.example.com",\n  "database": "sales",\n  "user": "agent",\n  "password": ""\n}';
const TYPES = ['postgresql', 'mysql', 'redis', 'mongodb', 's3', 'gcs', 'bigquery', 'azure', 'github', 'http_api'];

/** The organization's connectors: their state, a test from a sandbox, attaching to a sandbox config; admins make them. */
export function ConnectorsPage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const key = ['connectors', organization];
  const connectors = useQuery({ queryKey: key, queryFn: () => get<{ connectors: ConnectorSummary[] }>(inOrganization('/admin/v1/connectors', organization)) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: key });
  const test = useMutation({ mutationFn: (name: string) => post(inOrganization(`/admin/v1/connectors/${name}/test`, organization)), onSettled: refresh });
  const drop = useMutation({ mutationFn: (name: string) => remove(inOrganization(`/admin/v1/connectors/${name}`, organization)), onSuccess: refresh });
  const [attachTo, setAttachTo] = useState('default');
  const attach = useMutation({
    mutationFn: (name: string) => post(inOrganization(`/admin/v1/sandboxes/${attachTo}/connectors`, organization), { connector: name }),
    onSuccess: refresh,
  });
  const detach = useMutation({
    mutationFn: (name: string) => remove(inOrganization(`/admin/v1/sandboxes/${attachTo}/connectors/${name}`, organization)),
    onSuccess: refresh,
  });
  const [editing, setEditing] = useState<ConnectorSummary | null>(null);
  const [name, setName] = useState('');
  const [type, setType] = useState('postgresql');
  const [settings, setSettings] = useState(SETTINGS_EXAMPLE);
  const create = useMutation({
    mutationFn: () =>
      post(inOrganization('/admin/v1/connectors', organization), {
        ...parseSettings(settings, '{"host": "db.example.com", "password": "..."}'),
        name,
        type,
      }),
    onSuccess: async () => {
      // The form held the secrets: they leave the page with it.
      setName('');
      setSettings(SETTINGS_EXAMPLE);
      await refresh();
    },
  });
  return (
    <>
      <PageTitle description="Credentials for databases, buckets, GitHub and HTTP APIs, given to calls as the files their tools read.">Connectors</PageTitle>
      <ErrorMessage error={connectors.error ?? test.error ?? drop.error ?? attach.error ?? detach.error} />
      {can('admin') && (
        <Field label="Attach to sandbox config">
          <SandboxSelect className="mb-3 w-48" value={attachTo} onChange={setAttachTo} />
        </Field>
      )}
      <Table
        caption="Connectors"
        headers={['Name', 'Type', 'Endpoints', 'Secrets', 'State', 'Used by', '']}
        rows={(connectors.data?.connectors ?? []).map((connector) => [
          <code key="name">{connector.name}</code>,
          connector.type,
          connector.endpoints.join(', '),
          Object.entries(connector.secrets)
            .map(([field, hint]) => `${field} ${hint}`)
            .join(', '),
          <span key="status" title={connector.status_message ?? ''}>
            {connector.status}
            {connector.status_message ? `: ${connector.status_message}` : ''}
          </span>,
          connector.used_by.join(', '),
          can('admin') ? (
            <span key="actions" className="flex flex-wrap gap-2">
              <Button onClick={() => test.mutate(connector.name)} aria-label={`Test ${connector.name}`}>
                Test
              </Button>
              {connector.used_by.includes(attachTo) ? (
                <Button onClick={() => detach.mutate(connector.name)} aria-label={`Detach ${connector.name}`}>
                  Detach
                </Button>
              ) : (
                <Button onClick={() => attach.mutate(connector.name)} aria-label={`Attach ${connector.name}`}>
                  Attach
                </Button>
              )}
              <Button onClick={() => setEditing(connector)} aria-label={`Edit ${connector.name}`}>
                Edit
              </Button>
              <Button tone="danger" onClick={() => drop.mutate(connector.name)} aria-label={`Delete ${connector.name}`}>
                Delete
              </Button>
            </span>
          ) : null,
        ])}
        empty="No connector yet."
      />
      {editing && <ConnectorChanges key={editing.id} connector={editing} onDone={() => setEditing(null)} />}
      {can('admin') && (
        <CreateForm submitLabel="Create connector" pending={create.isPending} error={create.error} onSubmit={() => create.mutate()}>
          <Field label="Connector name">
            <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
          </Field>
          <Field label="Type">
            <Choice value={type} onChange={setType} choices={TYPES} />
          </Field>
          <Field label="Settings (JSON)" hint="the type's fields, secrets included; docs/connectors.md lists them">
            <textarea className={`${inputClass} h-32 w-96 font-mono text-xs`} value={settings} onChange={(event) => setSettings(event.target.value)} />
          </Field>
        </CreateForm>
      )}
    </>
  );
}

/** Changes a connector's settings: only those sent change, a secret left out is kept, null removes an optional one. */
function ConnectorChanges(props: { connector: ConnectorSummary; onDone: () => void }) {
  const { organization } = useSession();
  const queryClient = useQueryClient();
  const [changes, setChanges] = useState(JSON.stringify(props.connector.settings, null, 2));
  const save = useMutation({
    mutationFn: () =>
      patch(inOrganization(`/admin/v1/connectors/${props.connector.name}`, organization), parseSettings(changes, '{"host": "db2.example.com"}')),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['connectors', organization] });
      props.onDone();
    },
  });
  return (
    <CreateForm submitLabel="Save connector" pending={save.isPending} error={save.error} onSubmit={() => save.mutate()}>
      <Field
        label={`Changes to ${props.connector.name} (JSON)`}
        hint={`its settings; add a secret (${Object.keys(props.connector.secrets).join(', ') || 'none'}) only to replace it`}
      >
        <textarea className={`${inputClass} h-32 w-96 font-mono text-xs`} value={changes} onChange={(event) => setChanges(event.target.value)} />
      </Field>
      <Button onClick={props.onDone}>Cancel</Button>
    </CreateForm>
  );
}
