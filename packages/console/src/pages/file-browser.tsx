import type { FileEntry } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { Button, ErrorMessage, Field, Table, inputClass } from '../components.js';
import { deleteFile, downloadFile, listDirectory, uploadFile, type FileSource } from '../file-transfers.js';
import { useSession } from '../session.js';

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  return bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** The console's address of a directory of the source. */
function directoryLink(source: FileSource, path: string): string {
  const search = new URLSearchParams({ source: source.source, id: source.id, ...(path !== '' && { path }) });
  return `?${search.toString()}`;
}

/** Where the directory lies: the source, then each directory down to it, each a link but the last. */
function Breadcrumbs(props: { source: FileSource; path: string }) {
  const segments = props.path === '' ? [] : props.path.split('/');
  const crumbs = [{ label: `${props.source.source} ${props.source.id}`, path: '' }, ...segments.map((segment, index) => ({ label: segment, path: segments.slice(0, index + 1).join('/') }))];
  return (
    <nav aria-label="Breadcrumb" className="mb-3 text-sm">
      <ol className="flex flex-wrap gap-1">
        {crumbs.map((crumb, index) => (
          <li key={crumb.path} className="flex gap-1">
            {index > 0 && <span aria-hidden="true">/</span>}
            {index === crumbs.length - 1 ? (
              <span aria-current="page" className="font-medium">
                {crumb.label}
              </span>
            ) : (
              <Link to={directoryLink(props.source, crumb.path)} className="underline">
                {crumb.label}
              </Link>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}

/** A file of the browser uploaded into the directory. */
function UploadForm(props: { source: FileSource; path: string; onUploaded: (name: string) => Promise<void> }) {
  const { organization } = useSession();
  const input = useRef<HTMLInputElement>(null);
  const upload = useMutation({
    mutationFn: (file: File) => uploadFile(organization, props.source, props.path, file),
    onSuccess: async (_answer, file) => {
      if (input.current) input.current.value = '';
      await props.onUploaded(file.name);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const file = input.current?.files?.[0];
    if (file) upload.mutate(file);
  };
  return (
    <form onSubmit={submit} className="mt-6 flex flex-wrap items-end gap-3 rounded border border-slate-200 bg-white p-4">
      <Field label="File to upload" hint={`into ${props.path === '' ? 'the top directory' : props.path}; a file of the same name is replaced`}>
        <input ref={input} type="file" className={inputClass} required />
      </Field>
      <Button tone="primary" type="submit" disabled={upload.isPending}>
        {upload.isPending ? 'Uploading…' : 'Upload'}
      </Button>
      <ErrorMessage error={upload.error} />
    </form>
  );
}

/** Asks before a deletion, which cannot be undone; focus starts on Cancel. */
function ConfirmDelete(props: { entry: FileEntry; pending: boolean; onConfirm: () => void; onCancel: () => void }) {
  const what = props.entry.is_directory ? `the directory ${props.entry.path} and everything in it` : props.entry.path;
  return (
    <div role="alertdialog" aria-label={`Delete ${props.entry.name}?`} className="my-3 flex flex-wrap items-center gap-3 rounded border border-red-200 bg-red-50 px-3 py-2">
      <p className="text-red-900">Delete {what}? This cannot be undone.</p>
      <Button tone="danger" disabled={props.pending} onClick={props.onConfirm}>
        Delete
      </Button>
      <Button autoFocus onClick={props.onCancel}>
        Cancel
      </Button>
    </div>
  );
}

/** One directory of a thread's home or a volume: its entries, download, and for admins upload and delete. */
export function FileBrowser(props: { source: FileSource; path: string }) {
  const { source, path } = props;
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const queryKey = ['files', organization, source.source, source.id, path];
  const listing = useQuery({ queryKey, queryFn: () => listDirectory(organization, source, path) });
  const [doomed, setDoomed] = useState<FileEntry | null>(null);
  const [notice, setNotice] = useState('');
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['files', organization, source.source, source.id] });
  const download = useMutation({ mutationFn: (entry: FileEntry) => downloadFile(organization, source, entry.path) });
  const remove = useMutation({
    mutationFn: (entry: FileEntry) => deleteFile(organization, source, entry.path),
    onSuccess: async (_answer, entry) => {
      setDoomed(null);
      setNotice(`Deleted ${entry.name}.`);
      await refresh();
    },
  });
  const uploaded = async (name: string) => {
    setNotice(`Uploaded ${name}.`);
    await refresh();
  };
  const rows = (listing.data ?? []).map((entry) => [
    entry.is_directory ? (
      <Link key="name" to={directoryLink(source, entry.path)} className="underline">
        {entry.name}/
      </Link>
    ) : (
      <span key="name">{entry.name}</span>
    ),
    entry.is_directory ? '—' : formatBytes(entry.size),
    new Date(entry.modified).toLocaleString(),
    <div key="actions" className="flex gap-2">
      {!entry.is_directory && (
        <Button aria-label={`Download ${entry.name}`} disabled={download.isPending} onClick={() => download.mutate(entry)}>
          Download
        </Button>
      )}
      {can('admin') && (
        <Button tone="danger" aria-label={`Delete ${entry.name}`} onClick={() => setDoomed(entry)}>
          Delete
        </Button>
      )}
    </div>,
  ]);
  return (
    <section aria-label="Files">
      <Breadcrumbs source={source} path={path} />
      <p role="status" className="min-h-6 text-sm text-slate-600">
        {notice}
      </p>
      <ErrorMessage error={listing.error ?? download.error ?? remove.error} />
      {doomed && <ConfirmDelete entry={doomed} pending={remove.isPending} onConfirm={() => remove.mutate(doomed)} onCancel={() => setDoomed(null)} />}
      {listing.isPending ? (
        <p className="text-slate-500">Loading…</p>
      ) : (
        !listing.error && <Table caption={`Files in ${path === '' ? `${source.source} ${source.id}` : path}`} headers={['Name', 'Size', 'Modified', '']} rows={rows} empty="This directory is empty." />
      )}
      {can('admin') && !listing.error && <UploadForm source={source} path={path} onUploaded={uploaded} />}
    </section>
  );
}
