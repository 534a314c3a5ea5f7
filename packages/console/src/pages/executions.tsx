import type { AdminExecution, AdminExecutionDetail } from '@airlock/contracts';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { get, inOrganization } from '../api.js';
import { Button, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { useSession } from '../session.js';

const STATUSES = ['', 'running', 'success', 'failed', 'timeout', 'oom', 'blocked', 'cancelled'];

/** The organization's executions, newest first, filtered; one of them whole. */
export function ExecutionsPage() {
  const { organization } = useSession();
  const [status, setStatus] = useState('');
  const [thread, setThread] = useState('');
  const [metadata, setMetadata] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const query = new URLSearchParams({ ...(status && { status }), ...(thread && { thread_id: thread }), ...(metadata && { metadata }) });
  const executions = useQuery({
    queryKey: ['executions', organization, status, thread, metadata],
    queryFn: () => get<{ executions: AdminExecution[] }>(inOrganization(`/admin/v1/executions?${query.toString()}`, organization)),
  });
  return (
    <>
      <PageTitle description="Every call of the organization's keys, with its code and output, while its retention keeps it.">Executions</PageTitle>
      <div className="mb-4 flex flex-wrap items-end gap-3">
        <Field label="Status">
          <select className={inputClass} value={status} onChange={(event) => setStatus(event.target.value)}>
            {STATUSES.map((choice) => (
              <option key={choice} value={choice}>
                {choice || 'any'}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Thread">
          <input className={inputClass} value={thread} onChange={(event) => setThread(event.target.value)} />
        </Field>
        <Field label="Metadata" hint="key or key=value">
          <input className={inputClass} value={metadata} onChange={(event) => setMetadata(event.target.value)} />
        </Field>
      </div>
      <ErrorMessage error={executions.error} />
      <Table
        caption="Executions"
        headers={['Started', 'Trace id', 'Language', 'Status', 'Exit', 'Duration', 'Thread', '']}
        rows={(executions.data?.executions ?? []).map((execution) => [
          new Date(execution.created_at).toLocaleString(),
          <code key="trace">{execution.trace_id}</code>,
          execution.language,
          execution.status,
          execution.exit_code ?? '',
          `${execution.duration_ms} ms`,
          execution.thread_id ?? '',
          <Button key="open" onClick={() => setSelected(execution.trace_id)} aria-label={`Open ${execution.trace_id}`}>
            Open
          </Button>,
        ])}
        empty="No execution matches."
      />
      {selected && <ExecutionDetail traceId={selected} onClose={() => setSelected(null)} />}
    </>
  );
}

function ExecutionDetail(props: { traceId: string; onClose: () => void }) {
  const { organization } = useSession();
  const detail = useQuery({
    queryKey: ['execution', organization, props.traceId],
    queryFn: () => get<AdminExecutionDetail>(inOrganization(`/admin/v1/executions/${props.traceId}`, organization)),
  });
  const execution = detail.data;
  return (
    <section aria-label={`Execution ${props.traceId}`} className="mt-6 rounded border border-slate-200 bg-white p-4">
      <div className="mb-3 flex items-center justify-between">
        <h2 className="text-lg font-medium">
          <code>{props.traceId}</code>
        </h2>
        <Button onClick={props.onClose}>Close</Button>
      </div>
      <ErrorMessage error={detail.error} />
      {execution && (
        <>
          <dl className="mb-4 grid grid-cols-2 gap-x-6 gap-y-1 text-sm md:grid-cols-4">
            {[
              ['Status', execution.status],
              ['Exit code', execution.exit_code ?? '—'],
              ['Duration', `${execution.duration_ms} ms`],
              ['Overhead', execution.overhead_ms === null ? '—' : `${execution.overhead_ms.toFixed(2)} ms`],
              ['CPU time', execution.cpu_time_ms === null ? '—' : `${execution.cpu_time_ms.toFixed(1)} ms`],
              ['Peak memory', execution.peak_memory_bytes === null ? '—' : `${(execution.peak_memory_bytes / 1048576).toFixed(1)} MiB`],
              ['Network', execution.network_mode],
              ['Delivery', execution.delivery_mode],
            ].map(([label, value]) => (
              <div key={String(label)}>
                <dt className="text-slate-500">{label}</dt>
                <dd>{value}</dd>
              </div>
            ))}
          </dl>
          <Output label="Code" text={execution.code} />
          <Output label="stdout" text={execution.stdout ?? ''} />
          <Output label="stderr" text={execution.stderr ?? ''} />
          {execution.error_message && <p className="text-sm text-red-800">{execution.error_message}</p>}
          {execution.network && execution.network.length > 0 && (
            <Table
              caption="Network receipt"
              headers={['Name', 'Address', 'Port', 'Verdict', 'Bytes out', 'Bytes in']}
              rows={execution.network.map((entry) => [entry.name ?? '', entry.address, entry.port, entry.verdict, entry.bytes_out, entry.bytes_in])}
              empty=""
            />
          )}
          {execution.webhook && (
            <p className="mt-3 text-sm">
              Webhook to <code>{execution.webhook.url}</code>: {execution.webhook.status}, {execution.webhook.attempts.length} attempts.
            </p>
          )}
        </>
      )}
    </section>
  );
}

function Output(props: { label: string; text: string }) {
  return (
    <div className="mb-3">
      <h3 className="text-sm font-medium">{props.label}</h3>
      <pre className="max-h-64 overflow-auto rounded bg-slate-900 p-3 text-xs text-slate-100">{props.text || ' '}</pre>
    </div>
  );
}
