import type { ImageSummary } from '@airlock/contracts';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiFailure, post, remove } from '../api.js';
import { Button, CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { useImages } from '../organization-data.js';
import { useSession } from '../session.js';

/** Sends an archive with its upload progress (0–1); `fetch` reports none. */
function uploadArchive(name: string, file: File, onProgress: (fraction: number) => void): Promise<ImageSummary> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/admin/v1/images/${encodeURIComponent(name)}/archive`);
    request.setRequestHeader('content-type', 'application/x-tar');
    request.setRequestHeader('accept', 'application/json');
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () => {
      const body = JSON.parse(request.responseText || '{}') as ImageSummary & { error?: string; message?: string };
      if (request.status === 202) resolve(body);
      else reject(new ApiFailure(request.status, body.error ?? 'error', body.message ?? `${request.status} ${request.statusText}`));
    };
    request.onerror = () => reject(new Error('the upload was interrupted'));
    request.send(file);
  });
}

function languagesOf(image: ImageSummary): string {
  return Object.entries(image.manifest?.languages ?? {})
    .map(([language, details]) => `${language} ${/\d+(\.\d+)+/.exec(details?.version ?? '')?.[0] ?? ''}`.trim())
    .join(', ');
}

/** The installation's runtime images: their state and languages, imported from a registry or an archive, with progress. */
export function ImagesPage() {
  const { can } = useSession();
  const queryClient = useQueryClient();
  const images = useImages({ followWork: true });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['images'] });
  const build = useMutation({ mutationFn: (name: string) => post(`/admin/v1/images/${name}/build`), onSuccess: refresh });
  const drop = useMutation({ mutationFn: (name: string) => remove(`/admin/v1/images/${name}`), onSuccess: refresh });
  const list = images.data?.images ?? [];
  const [shown, setShown] = useState<string | null>(null);
  const packagesOf = list.find((image) => image.name === shown)?.manifest;
  const working = list.filter((image) => image.status === 'pending' || (image.status === 'failed' && image.progress.length > 0));
  return (
    <>
      <PageTitle description="The root file systems sandboxes run in, shared by every organization.">Images</PageTitle>
      <ErrorMessage error={images.error ?? build.error ?? drop.error} />
      <Table
        caption="Images"
        headers={['Name', 'Source', 'Version', 'State', 'Languages', 'Architecture', 'Size', 'Used by', '']}
        rows={list.map((image) => [
          <code key="name">{image.name}</code>,
          image.reference ?? image.source,
          image.manifest ? (
            <span key="version" title={`built ${new Date(image.manifest.built_at).toLocaleString()}`}>
              <code>{image.manifest.version}</code>
            </span>
          ) : (
            ''
          ),
          image.error ? `${image.status}: ${image.error}` : image.status,
          languagesOf(image),
          image.manifest?.architecture ?? '',
          image.manifest ? `${(image.manifest.size_bytes / 1048576).toFixed(0)} MiB` : '',
          image.used_by.join(', '),
          <div key="actions" className="flex gap-2">
            {image.manifest && (
              <Button onClick={() => setShown(shown === image.name ? null : image.name)} aria-label={`Packages of ${image.name}`}>
                Packages
              </Button>
            )}
            {can('admin') && image.status !== 'pending' && (
              <>
                {image.source === 'recipe' && (
                  <Button onClick={() => build.mutate(image.name)} aria-label={`Build ${image.name}`}>
                    Build
                  </Button>
                )}
                {image.name !== 'default' && image.used_by.length === 0 && (
                  <Button tone="danger" onClick={() => drop.mutate(image.name)} aria-label={`Remove ${image.name}`}>
                    Remove
                  </Button>
                )}
              </>
            )}
          </div>,
        ])}
        empty="No image."
      />
      {packagesOf && (
        <section aria-label={`Packages of ${shown}`} className="mt-4">
          <h2 className="mb-2 text-lg font-medium">
            {shown}: {packagesOf.libc ?? 'no C library'}, built {new Date(packagesOf.built_at).toLocaleString()}
          </h2>
          <Table
            caption={`Packages of ${shown}`}
            headers={['Package', 'Version', 'Ecosystem', 'License']}
            rows={packagesOf.packages.map((entry) => [entry.name, entry.version, entry.ecosystem, entry.license ?? ''])}
            empty="No package recorded."
          />
        </section>
      )}
      {working.map((image) => (
        <section key={image.name} aria-label={`Progress of ${image.name}`} className="mt-4">
          <h2 className="mb-1 text-sm font-medium">
            {image.name}: {image.status}
          </h2>
          <pre className="max-h-48 overflow-auto rounded bg-slate-900 p-3 text-xs text-slate-100">{image.progress.join('\n')}</pre>
        </section>
      ))}
      {can('admin') && (
        <>
          <RegistryImport onStarted={refresh} />
          <ArchiveImport onStarted={refresh} />
        </>
      )}
    </>
  );
}

function RegistryImport(props: { onStarted: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [reference, setReference] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [tlsVerify, setTlsVerify] = useState(true);
  const start = useMutation({
    mutationFn: () =>
      post<ImageSummary>('/admin/v1/images', {
        name,
        reference,
        tls_verify: tlsVerify,
        ...(username && { credentials: { username, password } }),
      }),
    onSuccess: async () => {
      setPassword('');
      await props.onStarted();
    },
  });
  return (
    <CreateForm submitLabel="Import from the registry" pending={start.isPending} error={start.error} onSubmit={() => start.mutate()}>
      <Field label="Image name" hint="how sandbox configs name it">
        <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
      </Field>
      <Field label="Reference" hint="registry.example.com/team/python:3.13">
        <input className={`${inputClass} w-80`} value={reference} onChange={(event) => setReference(event.target.value)} required />
      </Field>
      <Field label="Registry user" hint="optional">
        <input className={inputClass} value={username} onChange={(event) => setUsername(event.target.value)} autoComplete="off" />
      </Field>
      <Field label="Registry password" hint="sealed, never shown again">
        <input className={inputClass} type="password" value={password} onChange={(event) => setPassword(event.target.value)} autoComplete="off" />
      </Field>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" checked={tlsVerify} onChange={(event) => setTlsVerify(event.target.checked)} />
        Verify TLS
      </label>
    </CreateForm>
  );
}

function ArchiveImport(props: { onStarted: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [sent, setSent] = useState<number | null>(null);
  const start = useMutation({
    mutationFn: () => uploadArchive(name, file as File, setSent),
    onSettled: () => setSent(null),
    onSuccess: props.onStarted,
  });
  return (
    <CreateForm submitLabel="Upload and import" pending={start.isPending} error={start.error} onSubmit={() => start.mutate()}>
      <Field label="Archive image name">
        <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
      </Field>
      <Field label="Archive" hint="an OCI layout or `docker save` tar, gzipped or not">
        <input className={inputClass} type="file" accept=".tar,.tar.gz,.tgz" onChange={(event) => setFile(event.target.files?.[0] ?? null)} required />
      </Field>
      {sent !== null && (
        <progress aria-label="Upload" max={1} value={sent} className="w-40">
          {Math.round(sent * 100)}%
        </progress>
      )}
    </CreateForm>
  );
}
