import type { AdminExecution, AdminExecutionDetail, ExecutionCancelResponse, ExecutionEvent, WebhookDeliveryResponse } from '@airlock/contracts';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { apiFailure, get, inOrganization, post } from '../api.js';
import { executionEvents } from '../execution-events.js';
import { Button, Choice, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { useApiKeys } from '../organization-data.js';
import { useSession } from '../session.js';
import { useTimeRange } from '../time-range.js';

const STATUSES = ['', 'running', 'success', 'failed', 'timeout', 'oom', 'blocked', 'cancelled'];

/** The organization's executions, newest first, filtered; one of them whole. */
export function ExecutionsPage() {
  const { organization } = useSession();
  const [status, setStatus] = useState('');
  const [thread, setThread] = useState('');
  const [metadata, setMetadata] = useState('');
  const [apiKey, setApiKey] = useState('');
  const keys = useApiKeys();
  const time = useTimeRange();
  const [search, setSearch] = useSearchParams();
  const selected = search.get('trace');
  const select = (traceId: string | null) => setSearch(traceId === null ? {} : { trace: traceId });
  const query = new URLSearchParams({
    ...time.bounds,
    ...(status && { status }),
    ...(apiKey && { api_key: apiKey }),
    ...(thread && { thread_id: thread }),
    ...(metadata && { metadata }),
  });
  const path = inOrganization(`/admin/v1/executions?${query.toString()}`, organization);
  const executions = useInfiniteQuery({
    queryKey: ['executions', organization, path],
    initialPageParam: '',
    queryFn: ({ pageParam }) =>
      get<{ executions: AdminExecution[]; next_cursor: string | null }>(`${path}${pageParam && `&cursor=${encodeURIComponent(pageParam)}`}`),
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    refetchInterval: (current) =>
      current.state.data?.pages.some((page) => page.executions.some((execution) => execution.status === 'running')) ? 2000 : false,
  });
  const keyName = (id: string | null) => keys.data?.api_keys.find((key) => key.id === id)?.name ?? id ?? '';
  return (
    <>
      <PageTitle description="Every call of the organization's keys, with its code and output, while its retention keeps it.">Executions</PageTitle>
      <div className="mb-4 flex flex-wrap items-end gap-3">
        <Field label="Status">
          <Choice value={status} onChange={setStatus} choices={STATUSES} />
        </Field>
        {time.fields}
        <Field label="API key">
          <select className={inputClass} value={apiKey} onChange={(event) => setApiKey(event.target.value)}>
            <option value="">any</option>
            {(keys.data?.api_keys ?? []).map((key) => (
              <option key={key.id} value={key.id}>
                {key.name}
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
        headers={['Started', 'Trace id', 'Key', 'Language', 'Status', 'Exit', 'Duration', 'Thread', '']}
        rows={(executions.data?.pages.flatMap((page) => page.executions) ?? []).map((execution) => [
          new Date(execution.created_at).toLocaleString(),
          <code key="trace">{execution.trace_id}</code>,
          keyName(execution.api_key_id),
          execution.language,
          execution.status,
          execution.exit_code ?? '',
          execution.status === 'running' ? '—' : `${execution.duration_ms} ms`,
          execution.thread_id ?? '',
          <Button key="open" onClick={() => select(execution.trace_id)} aria-label={`Open ${execution.trace_id}`}>
            Open
          </Button>,
        ])}
        empty="No execution matches."
      />
      {executions.hasNextPage && (
        <Button className="mt-3" onClick={() => void executions.fetchNextPage()} disabled={executions.isFetchingNextPage}>
          Show older executions
        </Button>
      )}
      {selected && <ExecutionDetail key={selected} traceId={selected} onClose={() => select(null)} />}
    </>
  );
}

/** One execution whole: its outcome and resource use, its output (live while it runs), network receipt and webhook. */
function ExecutionDetail(props: { traceId: string; onClose: () => void }) {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const detail = useQuery({
    queryKey: ['execution', organization, props.traceId],
    queryFn: () => get<AdminExecutionDetail>(inOrganization(`/admin/v1/executions/${props.traceId}`, organization)),
    // A running execution's record, and a pending webhook's attempts, change while they are shown.
    refetchInterval: (current) => (current.state.data?.status === 'running' || current.state.data?.webhook?.status === 'pending' ? 1000 : false),
  });
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: ['execution', organization, props.traceId] });
    await queryClient.invalidateQueries({ queryKey: ['executions', organization] });
  };
  const execution = detail.data;
  const running = execution?.status === 'running';
  const live = useLiveOutput({ traceId: props.traceId, organization, enabled: running, onEnded: () => void refresh() });
  const cancel = useMutation({
    mutationFn: () => post<ExecutionCancelResponse>(inOrganization(`/admin/v1/executions/${props.traceId}/cancel`, organization)),
    onSuccess: refresh,
  });
  return (
    <section aria-label={`Execution ${props.traceId}`} className="mt-6 rounded border border-slate-200 bg-white p-4">
      <div className="mb-3 flex items-center justify-between gap-2">
        <h2 className="text-lg font-medium">
          <code>{props.traceId}</code>
        </h2>
        <div className="flex gap-2">
          {running && can('admin') && (
            <Button tone="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
              Cancel execution
            </Button>
          )}
          <Button onClick={props.onClose}>Close</Button>
        </div>
      </div>
      <ErrorMessage error={detail.error ?? cancel.error ?? live.error} />
      {execution && (
        <>
          <dl className="mb-4 grid grid-cols-2 gap-x-6 gap-y-1 text-sm md:grid-cols-4">
            {[
              ['Status', execution.status],
              ['Exit code', execution.exit_code ?? '—'],
              ['Duration', execution.status === 'running' ? '—' : `${execution.duration_ms} ms`],
              ['Overhead', execution.overhead_ms === null ? '—' : `${execution.overhead_ms.toFixed(2)} ms`],
              ['CPU time', execution.cpu_time_ms === null ? '—' : `${execution.cpu_time_ms.toFixed(1)} ms`],
              ['Peak memory', execution.peak_memory_bytes === null ? '—' : `${(execution.peak_memory_bytes / 1048576).toFixed(1)} MiB`],
              ['Network', execution.network_mode],
              ['Delivery', execution.delivery_mode],
            ].map(([label, value]) => (
              <div key={String(label)}>
                <dt className="text-slate-500">{label}</dt>
                <dd data-testid={label === 'Status' ? 'execution-status' : undefined}>{value}</dd>
              </div>
            ))}
          </dl>
          <Output label="Code" text={execution.code} />
          <Output label="stdout" text={running ? live.stdout : (execution.stdout ?? '')} live={running} />
          <Output label="stderr" text={running ? live.stderr : (execution.stderr ?? '')} live={running} />
          {execution.error_message && <p className="text-sm text-red-800">{execution.error_message}</p>}
          {execution.network && execution.network.length > 0 && (
            <Table
              caption="Network receipt"
              headers={['Name', 'Address', 'Port', 'Verdict', 'Bytes out', 'Bytes in']}
              rows={execution.network.map((entry) => [entry.name ?? '', entry.address, entry.port, entry.verdict, entry.bytes_out, entry.bytes_in])}
              empty=""
            />
          )}
          {execution.webhook && <WebhookDelivery traceId={props.traceId} delivery={execution.webhook} onRetried={refresh} />}
        </>
      )}
    </section>
  );
}

/** An execution's webhook delivery: where it goes, its state, every attempt; a failed one can be sent again. */
function WebhookDelivery(props: { traceId: string; delivery: WebhookDeliveryResponse; onRetried: () => Promise<void> }) {
  const { organization, can } = useSession();
  const { delivery } = props;
  const retry = useMutation({
    mutationFn: () => post<WebhookDeliveryResponse>(inOrganization(`/admin/v1/executions/${props.traceId}/webhook/retry`, organization)),
    onSuccess: props.onRetried,
  });
  return (
    <div className="mt-4">
      <div className="mb-2 flex flex-wrap items-center gap-3 text-sm">
        <h3 className="font-medium">Webhook</h3>
        <span>
          to <code>{delivery.url}</code>: <span data-testid="webhook-status">{delivery.status}</span>
          {delivery.next_attempt_at && `, next attempt ${new Date(delivery.next_attempt_at).toLocaleString()}`}
        </span>
        {delivery.status === 'failed' && can('admin') && (
          <Button onClick={() => retry.mutate()} disabled={retry.isPending}>
            Retry webhook
          </Button>
        )}
      </div>
      <ErrorMessage error={retry.error} />
      <Table
        caption="Webhook attempts"
        headers={['Attempt', 'At', 'Answer', 'Error', 'Duration']}
        rows={delivery.attempts.map((attempt) => [
          attempt.attempt,
          new Date(attempt.attempted_at).toLocaleString(),
          attempt.status_code ?? 'none',
          attempt.error ?? '',
          `${attempt.duration_ms} ms`,
        ])}
        empty="No attempt yet."
      />
    </div>
  );
}

/**
 * The output of a running execution as it is produced: its NDJSON events (`/admin/v1/executions/{id}/output`) read
 * while `enabled`, output appended, until the `result` event (then `onEnded`).
 */
function useLiveOutput(options: { traceId: string; organization: string; enabled: boolean; onEnded: () => void }) {
  const { traceId, organization, enabled, onEnded } = options;
  const [output, setOutput] = useState({ stdout: '', stderr: '' });
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    setOutput({ stdout: '', stderr: '' });
    setError(null);
    const onEvent = (event: ExecutionEvent) => {
      if (event.type === 'output') setOutput((current) => ({ ...current, [event.stream]: current[event.stream] + event.data }));
      if (event.type === 'result') onEnded();
    };
    followEvents(inOrganization(`/admin/v1/executions/${traceId}/output`, organization), abort.signal, onEvent).catch((failure: unknown) => {
      if (!abort.signal.aborted) setError(failure instanceof Error ? failure : new Error(String(failure)));
    });
    return () => abort.abort();
    // onEnded is called once, at the end: a new function each render does not restart the stream.
  }, [traceId, organization, enabled]);
  return { ...output, error };
}

/** Reads an NDJSON event stream, calling `onEvent` with each event, until the `result` event or the stream's end. */
async function followEvents(path: string, signal: AbortSignal, onEvent: (event: ExecutionEvent) => void): Promise<void> {
  const response = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/x-ndjson' }, signal });
  if (!response.ok || !response.body) {
    throw await apiFailure(response);
  }
  for await (const event of executionEvents(response.body)) {
    onEvent(event);
    if (event.type === 'result') return;
  }
  throw new Error('the output stream ended before the result; reopen the execution to see it');
}

/** A labelled block of text (code, stdout, stderr); `live` while it grows with the running execution's output. */
function Output(props: { label: string; text: string; live?: boolean }) {
  return (
    <figure className="mb-3">
      <figcaption className="text-sm font-medium">
        {props.label}
        {props.live && <span className="ml-2 text-xs font-normal text-emerald-700">(live)</span>}
      </figcaption>
      <pre className="max-h-64 overflow-auto rounded bg-slate-900 p-3 text-xs text-slate-100">{props.text || ' '}</pre>
    </figure>
  );
}
