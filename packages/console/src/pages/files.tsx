import { useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { Button, ErrorMessage, Field, PageTitle, inputClass } from '../components.js';
import type { FileSource } from '../file-transfers.js';
import { useVolumes } from '../organization-data.js';
import { FileBrowser } from './file-browser.js';

/** The choice of what to browse: one of the organization's volumes, or a thread by its id. */
function SourcePicker(props: { current: FileSource | null; onChoose: (source: FileSource) => void }) {
  const volumes = useVolumes();
  const [kind, setKind] = useState<FileSource['source']>(props.current?.source ?? 'volume');
  const [volume, setVolume] = useState(props.current?.source === 'volume' ? props.current.id : '');
  const [thread, setThread] = useState(props.current?.source === 'thread' ? props.current.id : '');
  const choices = volumes.data?.volumes ?? [];
  const chosenVolume = volume || choices[0]?.slug || '';
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const id = kind === 'volume' ? chosenVolume : thread.trim();
    if (id !== '') props.onChoose({ source: kind, id });
  };
  return (
    <form onSubmit={submit} className="mb-6 flex flex-wrap items-end gap-3 rounded border border-slate-200 bg-white p-4">
      <Field label="Source">
        <select className={inputClass} value={kind} onChange={(event) => setKind(event.target.value as FileSource['source'])}>
          <option value="volume">Volume</option>
          <option value="thread">Thread</option>
        </select>
      </Field>
      {kind === 'volume' ? (
        <Field label="Volume" hint={choices.length === 0 && !volumes.isPending ? 'no volume yet: create one on the Storage page' : undefined}>
          <select className={`${inputClass} w-56`} value={chosenVolume} onChange={(event) => setVolume(event.target.value)} required>
            {choices.map((choice) => (
              <option key={choice.id} value={choice.slug}>
                {choice.name} ({choice.slug})
              </option>
            ))}
          </select>
        </Field>
      ) : (
        <Field label="Thread id" hint="the thread_id executions ran with">
          <input className={`${inputClass} w-56`} value={thread} onChange={(event) => setThread(event.target.value)} pattern="[A-Za-z0-9_\-]{1,128}" required />
        </Field>
      )}
      <Button tone="primary" type="submit">
        Browse
      </Button>
      <ErrorMessage error={volumes.error} />
    </form>
  );
}

/** The files of the organization's volumes and threads' homes; where the browser is lives in the address. */
export function FilesPage() {
  const [search, setSearch] = useSearchParams();
  const kind = search.get('source');
  const id = search.get('id');
  const current: FileSource | null = (kind === 'volume' || kind === 'thread') && id ? { source: kind, id } : null;
  return (
    <>
      <PageTitle description="What sandboxes find at /data/<volume> and in a thread's home: list, upload, download, delete.">Files</PageTitle>
      <SourcePicker current={current} onChoose={(source) => setSearch({ source: source.source, id: source.id })} />
      {current && <FileBrowser key={`${current.source}:${current.id}`} source={current} path={search.get('path') ?? ''} />}
    </>
  );
}
