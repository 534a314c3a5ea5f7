import type { StorageConnectionSummary, StorageConnectionTestResponse, VolumeSummary } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { get, inOrganization, patch, post, remove } from '../api.js';
import { formatBytes } from '../charts.js';
import { Button, CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass, parseSettings } from '../components.js';
import { SandboxSelect, useAttachments, useVolumes } from '../organization-data.js';
import { useSession } from '../session.js';

const PROVIDER_EXAMPLES: Record<string, string> = {
  s3: '{\n  "bucket": "reports",\n  "region": "eu-west-1",\n  "access_key_id": "",\n  "secret_access_key": ""\n}',
  gcs: '{\n  "bucket": "reports",\n  "service_account_json": ""\n}',
  azure: '{\n  "container": "reports",\n  "account": "",\n  "key": ""\n}',
};

const size = (bytes: number | null) => (bytes === null ? '—' : formatBytes(bytes));

function useStorageConnections() {
  const { organization } = useSession();
  return useQuery({
    queryKey: ['storage-connections', organization],
    queryFn: () => get<{ connections: StorageConnectionSummary[] }>(inOrganization('/admin/v1/storage-connections', organization)),
  });
}

/** Storage at /data: volumes (with their use), the organization's own buckets, and what each sandbox config mounts. */
export function StoragePage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const volumes = useVolumes();
  const [sandbox, setSandbox] = useState('default');
  const attachments = useAttachments(sandbox);
  const connections = useStorageConnections();
  const connectionName = (id: string) => connections.data?.connections.find((connection) => connection.id === id)?.name ?? id;
  const refreshMounts = () => queryClient.invalidateQueries({ queryKey: ['attachments', organization, sandbox] });
  const attach = useMutation({
    mutationFn: (what: { volume: string } | { connection: string }) => post(inOrganization(`/admin/v1/sandboxes/${sandbox}/attachments`, organization), what),
    onSuccess: refreshMounts,
  });
  const detach = useMutation({
    mutationFn: (mount: string) => remove(inOrganization(`/admin/v1/sandboxes/${sandbox}/attachments/${mount}`, organization)),
    onSuccess: refreshMounts,
  });
  const [editing, setEditing] = useState<VolumeSummary | null>(null);
  const dropVolume = useMutation({
    mutationFn: (slug: string) => remove(inOrganization(`/admin/v1/volumes/${slug}`, organization)),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['volumes', organization] }),
  });
  return (
    <>
      <PageTitle description="What sandboxes see at /data/<name>: managed volumes and your own buckets.">Storage</PageTitle>
      <Field label="Sandbox config" hint="the one the Mount buttons attach to, and whose mounts are listed below">
        <SandboxSelect className="mb-3 w-48" value={sandbox} onChange={setSandbox} />
      </Field>
      <h2 className="mt-4 mb-2 text-lg font-medium">Volumes</h2>
      <ErrorMessage error={volumes.error ?? attach.error ?? dropVolume.error} />
      <Table
        caption="Volumes"
        headers={['Name', 'Slug', 'Used', 'Quota', '']}
        rows={(volumes.data?.volumes ?? []).map((volume) => [
          volume.name,
          <code key="slug">{volume.slug}</code>,
          size(volume.used_bytes),
          size(volume.quota_bytes),
          <span key="actions" className="flex flex-wrap items-center gap-2">
            <Link className="text-sm underline" to={`/files?source=volume&id=${encodeURIComponent(volume.slug)}`}>
              Files
            </Link>
            {can('admin') && (
              <>
                <Button onClick={() => attach.mutate({ volume: volume.slug })} aria-label={`Mount ${volume.slug} in ${sandbox}`}>
                  Mount
                </Button>
                <Button onClick={() => setEditing(volume)} aria-label={`Edit volume ${volume.slug}`}>
                  Edit
                </Button>
                <Button tone="danger" onClick={() => dropVolume.mutate(volume.slug)} aria-label={`Delete volume ${volume.slug}`}>
                  Delete
                </Button>
              </>
            )}
          </span>,
        ])}
        empty="No volume yet."
      />
      {can('admin') && (editing ? <VolumeForm key={editing.slug} volume={editing} onDone={() => setEditing(null)} /> : <VolumeForm key="new" />)}
      <h2 className="mt-8 mb-2 text-lg font-medium">Your buckets</h2>
      <Connections sandbox={sandbox} onMount={(connection) => attach.mutate({ connection })} />
      <h2 className="mt-8 mb-2 text-lg font-medium">Mounted in {sandbox}</h2>
      <ErrorMessage error={attachments.error ?? detach.error} />
      <Table
        caption="Mounts"
        headers={['Path', 'What', 'Access', '']}
        rows={(attachments.data?.attachments ?? []).map((attachment) => [
          <code key="path">{attachment.path}</code>,
          attachment.volume ? `volume ${attachment.volume}` : `bucket ${connectionName(attachment.connection ?? '')}`,
          attachment.read_only ? 'read-only' : 'read-write',
          can('admin') ? (
            <Button key="detach" tone="danger" onClick={() => detach.mutate(attachment.mount_name)} aria-label={`Detach ${attachment.path}`}>
              Detach
            </Button>
          ) : null,
        ])}
        empty="Nothing mounted at /data."
      />
    </>
  );
}

/** Creates a volume, or changes one's name and quota (its slug stays); an empty quota is none. */
function VolumeForm(props: { volume?: VolumeSummary; onDone?: () => void }) {
  const { organization } = useSession();
  const queryClient = useQueryClient();
  const [name, setName] = useState(props.volume?.name ?? '');
  const [slug, setSlug] = useState(props.volume?.slug ?? '');
  const [quota, setQuota] = useState(props.volume?.quota_bytes ? String(props.volume.quota_bytes / 1048576) : '');
  const quotaBytes = quota.trim() === '' ? null : Number.isNaN(Number(quota)) ? quota : Math.round(Number(quota) * 1048576);
  const save = useMutation({
    mutationFn: () =>
      props.volume
        ? patch<VolumeSummary>(inOrganization(`/admin/v1/volumes/${props.volume.slug}`, organization), { name, quota_bytes: quotaBytes })
        : post<VolumeSummary>(inOrganization('/admin/v1/volumes', organization), { name, slug, ...(quotaBytes !== null && { quota_bytes: quotaBytes }) }),
    onSuccess: async () => {
      setName('');
      setSlug('');
      setQuota('');
      await queryClient.invalidateQueries({ queryKey: ['volumes', organization] });
      props.onDone?.();
    },
  });
  return (
    <CreateForm submitLabel={props.volume ? `Save ${props.volume.slug}` : 'Create volume'} pending={save.isPending} error={save.error} onSubmit={() => save.mutate()}>
      <Field label="Volume name">
        <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
      </Field>
      {!props.volume && (
        <Field label="Slug" hint="the directory name under /data">
          <input className={inputClass} value={slug} onChange={(event) => setSlug(event.target.value)} required />
        </Field>
      )}
      <Field label="Quota (MiB)" hint="empty: no quota">
        <input className={inputClass} inputMode="decimal" value={quota} onChange={(event) => setQuota(event.target.value)} />
      </Field>
      {props.onDone && <Button onClick={props.onDone}>Cancel</Button>}
    </CreateForm>
  );
}

/** The organization's buckets and containers: connected, tested with their own credentials, mounted, removed. */
function Connections(props: { sandbox: string; onMount: (connection: string) => void }) {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const connections = useStorageConnections();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['storage-connections', organization] });
  const [tested, setTested] = useState<{ name: string; result: StorageConnectionTestResponse } | null>(null);
  const test = useMutation({
    mutationFn: async (connection: StorageConnectionSummary) => ({
      name: connection.name,
      result: await post<StorageConnectionTestResponse>(inOrganization(`/admin/v1/storage-connections/${connection.id}/test`, organization)),
    }),
    onSuccess: setTested,
  });
  const drop = useMutation({ mutationFn: (id: string) => remove(inOrganization(`/admin/v1/storage-connections/${id}`, organization)), onSuccess: refresh });
  const [editing, setEditing] = useState<StorageConnectionSummary | null>(null);
  const [name, setName] = useState('');
  const [mountName, setMountName] = useState('');
  const [provider, setProvider] = useState('s3');
  const [settings, setSettings] = useState(PROVIDER_EXAMPLES.s3 ?? '');
  const chooseProvider = (next: string) => {
    if (settings === PROVIDER_EXAMPLES[provider]) setSettings(PROVIDER_EXAMPLES[next] ?? '');
    setProvider(next);
  };
  const create = useMutation({
    mutationFn: () =>
      post(inOrganization('/admin/v1/storage-connections', organization), {
        ...parseSettings(settings, '{"bucket": "reports", "access_key_id": "..."}'),
        name,
        mount_name: mountName,
        provider,
      }),
    onSuccess: async () => {
      // The form held the secrets: they leave the page with it.
      setName('');
      setMountName('');
      setSettings(PROVIDER_EXAMPLES[provider] ?? '');
      await refresh();
    },
  });
  return (
    <>
      <ErrorMessage error={connections.error ?? test.error ?? drop.error} />
      {tested && (
        <p role="status" className={`my-3 rounded border px-3 py-2 ${tested.result.reachable ? 'border-green-200 bg-green-50 text-green-900' : 'border-red-200 bg-red-50 text-red-800'}`}>
          {tested.name}: {tested.result.message}
        </p>
      )}
      <Table
        caption="Storage connections"
        headers={['Name', 'Provider', 'Bucket', 'Prefix', 'Mount name', '']}
        rows={(connections.data?.connections ?? []).map((connection) => [
          connection.name,
          connection.provider,
          'bucket' in connection ? connection.bucket : connection.container,
          connection.prefix,
          connection.mount_name,
          can('admin') ? (
            <span key="actions" className="flex flex-wrap gap-2">
              <Button onClick={() => test.mutate(connection)} disabled={test.isPending} aria-label={`Test ${connection.name}`}>
                Test
              </Button>
              <Button onClick={() => props.onMount(connection.id)} aria-label={`Mount ${connection.name} in ${props.sandbox}`}>
                Mount
              </Button>
              <Button onClick={() => setEditing(connection)} aria-label={`Edit connection ${connection.name}`}>
                Edit
              </Button>
              <Button tone="danger" onClick={() => drop.mutate(connection.id)} aria-label={`Delete connection ${connection.name}`}>
                Delete
              </Button>
            </span>
          ) : null,
        ])}
        empty="No bucket connected yet."
      />
      {editing && <ConnectionChanges key={editing.id} connection={editing} onDone={() => setEditing(null)} />}
      {can('admin') && (
        <CreateForm submitLabel="Connect bucket" pending={create.isPending} error={create.error} onSubmit={() => create.mutate()}>
          <Field label="Connection name">
            <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
          </Field>
          <Field label="Mount name" hint="sandboxes see it at /data/<mount name>">
            <input className={inputClass} value={mountName} onChange={(event) => setMountName(event.target.value)} required />
          </Field>
          <Field label="Provider">
            <select className={inputClass} value={provider} onChange={(event) => chooseProvider(event.target.value)}>
              <option value="s3">S3 or S3-compatible</option>
              <option value="gcs">Google Cloud Storage</option>
              <option value="azure">Azure Blob Storage</option>
            </select>
          </Field>
          <Field label="Bucket settings (JSON)" hint="the provider's fields, secrets included (endpoint, path_style, prefix, read_only, sync_mode...)">
            <textarea className={`${inputClass} h-32 w-96 font-mono text-xs`} value={settings} onChange={(event) => setSettings(event.target.value)} />
          </Field>
        </CreateForm>
      )}
    </>
  );
}

/** Changes a connection: only the fields sent change; a secret sent replaces the stored one, one left out is kept. */
function ConnectionChanges(props: { connection: StorageConnectionSummary; onDone: () => void }) {
  const { organization } = useSession();
  const queryClient = useQueryClient();
  const { id: _id, provider: _provider, credentials, created_at: _created, updated_at: _updated, ...settings } = props.connection;
  const [changes, setChanges] = useState(JSON.stringify(settings, null, 2));
  const save = useMutation({
    mutationFn: () => patch(inOrganization(`/admin/v1/storage-connections/${props.connection.id}`, organization), parseSettings(changes, '{"prefix": "team/"}')),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['storage-connections', organization] });
      props.onDone();
    },
  });
  return (
    <CreateForm submitLabel="Save connection" pending={save.isPending} error={save.error} onSubmit={() => save.mutate()}>
      <Field
        label={`Changes to ${props.connection.name} (JSON)`}
        hint={`add a secret (${Object.keys(credentials).join(', ') || 'none stored'}) only to replace it`}
      >
        <textarea className={`${inputClass} h-32 w-96 font-mono text-xs`} value={changes} onChange={(event) => setChanges(event.target.value)} />
      </Field>
      <Button onClick={props.onDone}>Cancel</Button>
    </CreateForm>
  );
}
