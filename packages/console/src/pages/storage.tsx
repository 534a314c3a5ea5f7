import type { AttachmentSummary, StorageConnectionSummary, VolumeSummary } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { get, inOrganization, post } from '../api.js';
import { CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { SandboxSelect } from '../organization-data.js';
import { useSession } from '../session.js';

function size(bytes: number | null): string {
  if (bytes === null) return '—';
  return bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Storage at /data: volumes (with their use), the organization's own buckets, and what each sandbox config mounts. */
export function StoragePage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const volumes = useQuery({ queryKey: ['volumes', organization], queryFn: () => get<{ volumes: VolumeSummary[] }>(inOrganization('/admin/v1/volumes', organization)) });
  const connections = useQuery({
    queryKey: ['storage-connections', organization],
    queryFn: () => get<{ connections: StorageConnectionSummary[] }>(inOrganization('/admin/v1/storage-connections', organization)),
  });
  const [sandbox, setSandbox] = useState('default');
  const attachments = useQuery({
    queryKey: ['attachments', organization, sandbox],
    queryFn: () => get<{ attachments: AttachmentSummary[] }>(inOrganization(`/admin/v1/sandboxes/${sandbox}/attachments`, organization)),
  });
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const create = useMutation({
    mutationFn: () => post<VolumeSummary>(inOrganization('/admin/v1/volumes', organization), { name, slug }),
    onSuccess: async () => {
      setName('');
      setSlug('');
      await queryClient.invalidateQueries({ queryKey: ['volumes', organization] });
    },
  });
  const attach = useMutation({
    mutationFn: (volume: string) => post(inOrganization(`/admin/v1/sandboxes/${sandbox}/attachments`, organization), { volume }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['attachments', organization, sandbox] }),
  });
  return (
    <>
      <PageTitle description="What sandboxes see at /data/<name>: managed volumes and your own buckets.">Storage</PageTitle>
      <h2 className="mb-2 text-lg font-medium">Volumes</h2>
      <ErrorMessage error={volumes.error ?? attach.error} />
      <Table
        caption="Volumes"
        headers={['Name', 'Slug', 'Used', 'Quota', '']}
        rows={(volumes.data?.volumes ?? []).map((volume) => [
          volume.name,
          <code key="slug">{volume.slug}</code>,
          size(volume.used_bytes),
          size(volume.quota_bytes),
          can('admin') ? (
            <button key="attach" type="button" className="text-sm underline" onClick={() => attach.mutate(volume.slug)}>
              Mount in {sandbox}
            </button>
          ) : null,
        ])}
        empty="No volume yet."
      />
      {can('admin') && (
        <CreateForm submitLabel="Create volume" pending={create.isPending} error={create.error} onSubmit={() => create.mutate()}>
          <Field label="Volume name">
            <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
          </Field>
          <Field label="Slug" hint="the directory name under /data">
            <input className={inputClass} value={slug} onChange={(event) => setSlug(event.target.value)} required />
          </Field>
        </CreateForm>
      )}
      <h2 className="mt-8 mb-2 text-lg font-medium">Your buckets</h2>
      <ErrorMessage error={connections.error} />
      <Table
        caption="Storage connections"
        headers={['Name', 'Provider', 'Bucket', 'Prefix', 'Mount name']}
        rows={(connections.data?.connections ?? []).map((connection) => [connection.name, connection.provider, 'bucket' in connection ? connection.bucket : connection.container, connection.prefix, connection.mount_name])}
        empty="No bucket connected: POST /admin/v1/storage-connections connects one."
      />
      <h2 className="mt-8 mb-2 text-lg font-medium">Mounted in a sandbox config</h2>
      <Field label="Sandbox config">
        <SandboxSelect className="mb-3 w-48" value={sandbox} onChange={setSandbox} />
      </Field>
      <ErrorMessage error={attachments.error} />
      <Table
        caption="Mounts"
        headers={['Path', 'What', 'Access']}
        rows={(attachments.data?.attachments ?? []).map((attachment) => [
          <code key="path">{attachment.path}</code>,
          attachment.volume ?? attachment.connection ?? '',
          attachment.read_only ? 'read-only' : 'read-write',
        ])}
        empty="Nothing mounted at /data."
      />
    </>
  );
}
