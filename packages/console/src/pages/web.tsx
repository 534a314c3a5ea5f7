import type { AuditEntry, WebSearchProviderSummary } from '@airlock/contracts';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { ApiFailure, api, get, inOrganization, remove } from '../api.js';
import { Button, Choice, CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { useApiKeys } from '../organization-data.js';
import { useSession } from '../session.js';
import { useTimeRange } from '../time-range.js';

const OUTCOMES = ['', 'success', 'failure', 'denied'];
const PROVIDER_KINDS = ['searxng', 'brave', 'tavily'];
const PROVIDER_PATH = '/admin/v1/web/search-provider';

interface Hop {
  url: string;
  rule: string;
  address: string | null;
  status: number | null;
}

interface Finding {
  rule: string;
  weight: number;
  excerpt: string;
}

/** A web request as its audit entry records it (`changes` of a `web.fetch` or `web.search` entry). */
interface WebRequest {
  entry: AuditEntry;
  tool: string;
  target: string;
  status: number | null;
  bytes: number | null;
  durationMs: number | null;
  hops: Hop[];
  scan: { score: number; flagged: boolean; findings: Finding[] } | null;
  body: string;
}

function webRequestOf(entry: AuditEntry): WebRequest {
  const changes = entry.changes ?? {};
  const number = (value: unknown) => (typeof value === 'number' ? value : null);
  return {
    entry,
    tool: entry.action.replace(/^web\./, ''),
    target: String(changes.url ?? changes.query ?? ''),
    status: number(changes.status),
    bytes: number(changes.bytes),
    durationMs: number(changes.duration_ms),
    hops: Array.isArray(changes.hops) ? (changes.hops as Hop[]) : [],
    scan: (changes.scan as WebRequest['scan'] | undefined) ?? null,
    body: typeof changes.body === 'string' ? changes.body : '',
  };
}

function size(bytes: number | null): string {
  if (bytes === null) return '—';
  if (bytes < 1024) return `${bytes} B`;
  return bytes < 1_048_576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

/** The organization's web requests (every fetch and search of its keys' executions, from the audit log), and its search provider. */
export function WebPage() {
  const { organization } = useSession();
  const keys = useApiKeys();
  const [outcome, setOutcome] = useState('');
  const [actor, setActor] = useState('');
  const [trace, setTrace] = useState('');
  const [selected, setSelected] = useState<number | null>(null);
  const time = useTimeRange();
  const filter = new URLSearchParams({
    action: 'web',
    ...time.bounds,
    ...(outcome && { outcome }),
    ...(actor && { actor }),
    ...(trace.trim() && { target_id: trace.trim() }),
  });
  const path = inOrganization(`/admin/v1/audit?${filter.toString()}`, organization);
  const entries = useInfiniteQuery({
    queryKey: ['web-requests', path],
    initialPageParam: '',
    queryFn: ({ pageParam }) => get<{ entries: AuditEntry[]; next_cursor: string | null }>(`${path}&limit=100${pageParam && `&cursor=${encodeURIComponent(pageParam)}`}`),
    getNextPageParam: (page) => page.next_cursor ?? undefined,
  });
  const requests = (entries.data?.pages.flatMap((page) => page.entries) ?? []).map(webRequestOf);
  const shown = requests.find((request) => request.entry.seq === selected);
  const keyNames = [...new Set((keys.data?.api_keys ?? []).map((key) => key.name))];
  return (
    <>
      <PageTitle description="What the web tools of the organization's executions fetched and searched, allowed or refused, and where web-search goes.">
        Web
      </PageTitle>
      <SearchProvider />
      <h2 className="mt-8 mb-3 text-lg font-semibold">Web requests</h2>
      <div className="mb-4 flex flex-wrap items-end gap-3">
        {time.fields}
        <Field label="Outcome">
          <Choice value={outcome} onChange={setOutcome} choices={OUTCOMES} />
        </Field>
        <Field label="Key">
          <Choice value={actor} onChange={setActor} choices={['', ...keyNames]} />
        </Field>
        <Field label="Execution" hint="its trace id">
          <input className={inputClass} value={trace} onChange={(event) => setTrace(event.target.value)} placeholder="trc_..." />
        </Field>
      </div>
      <ErrorMessage error={entries.error ?? keys.error} />
      <Table
        caption="Web requests"
        headers={['Time', 'Key', 'Tool', 'URL or query', 'Outcome', 'Rule', 'Scan score', 'Size', '']}
        rows={requests.map((request) => [
          new Date(request.entry.occurred_at).toLocaleString(),
          request.entry.actor,
          request.tool,
          <span key="target" className="break-all">
            {request.target}
          </span>,
          request.entry.outcome,
          <code key="rule">{request.entry.reason ?? ''}</code>,
          request.scan ? `${request.scan.score.toFixed(2)}${request.scan.flagged ? ' (flagged)' : ''}` : '—',
          size(request.bytes),
          <Button key="open" onClick={() => setSelected(request.entry.seq)} aria-label={`Open the ${request.tool} of ${request.target}`}>
            Open
          </Button>,
        ])}
        empty="No web request matches."
      />
      {entries.hasNextPage && (
        <Button className="mt-3" onClick={() => void entries.fetchNextPage()} disabled={entries.isFetchingNextPage}>
          Show older requests
        </Button>
      )}
      {shown && <WebRequestDetail request={shown} onClose={() => setSelected(null)} />}
    </>
  );
}

/** One web request whole: how it was decided at each hop, what the scan found, and the start of the body as text. */
function WebRequestDetail(props: { request: WebRequest; onClose: () => void }) {
  const { request } = props;
  const { entry } = request;
  return (
    <section aria-label={`Web request ${request.target}`} className="mt-6 rounded border border-slate-200 bg-white p-4">
      <div className="mb-3 flex items-center justify-between gap-2">
        <h2 className="text-lg font-medium break-all">
          {request.tool} <code>{request.target}</code>
        </h2>
        <Button onClick={props.onClose}>Close</Button>
      </div>
      <dl className="mb-4 grid grid-cols-2 gap-x-6 gap-y-1 text-sm md:grid-cols-4">
        {[
          ['Outcome', entry.outcome],
          ['Rule', entry.reason ?? '—'],
          ['Key', entry.actor],
          [
            'Execution',
            entry.target_id ? (
              <Link className="text-blue-800 underline" to={`/executions?trace=${encodeURIComponent(entry.target_id)}`}>
                {entry.target_id}
              </Link>
            ) : (
              '—'
            ),
          ],
          ['Status', request.status ?? '—'],
          ['Size', size(request.bytes)],
          ['Duration', request.durationMs === null ? '—' : `${request.durationMs} ms`],
          ['At', new Date(entry.occurred_at).toLocaleString()],
        ].map(([label, value]) => (
          <div key={String(label)}>
            <dt className="text-slate-500">{label}</dt>
            <dd className="break-all">{value}</dd>
          </div>
        ))}
      </dl>
      {request.tool === 'fetch' && (
        <>
          <h3 className="mb-2 font-medium">Hops</h3>
          <Table
            caption="Hops"
            headers={['URL', 'Rule', 'Address', 'Status']}
            rows={request.hops.map((hop) => [
              <span key="url" className="break-all">
                {hop.url}
              </span>,
              <code key="rule">{hop.rule}</code>,
              hop.address ?? 'not connected',
              hop.status ?? '—',
            ])}
            empty="Refused before the first hop."
          />
        </>
      )}
      <h3 className="mt-4 mb-2 font-medium">Injection scan</h3>
      {request.scan ? (
        <>
          <p className="mb-2 text-sm">
            Score {request.scan.score.toFixed(2)}: {request.scan.flagged ? 'flagged' : 'not flagged'}.
          </p>
          <Table
            caption="Scan findings"
            headers={['Rule', 'Weight', 'Excerpt']}
            rows={request.scan.findings.map((finding) => [
              <code key="rule">{finding.rule}</code>,
              finding.weight.toFixed(2),
              <span key="excerpt" className="font-mono text-xs break-all whitespace-pre-wrap">
                {finding.excerpt}
              </span>,
            ])}
            empty="Nothing found."
          />
        </>
      ) : (
        <p className="text-sm text-slate-600">Not scanned.</p>
      )}
      <h3 className="mt-4 mb-2 font-medium">Body (its first 60 KB, as text)</h3>
      {request.body ? (
        // Text only: the body is whatever the page sent, never markup for this page.
        <pre aria-label="Body" tabIndex={0} className="max-h-96 overflow-auto rounded bg-slate-900 p-3 text-xs whitespace-pre-wrap text-slate-100">
          {request.body}
        </pre>
      ) : (
        <p className="text-sm text-slate-600">No body.</p>
      )}
    </section>
  );
}

/**
 * The organization's search provider (the API answers 404 while there is none, the usual state of an organization
 * without web tools). Admins set and delete it; its key is never shown back.
 */
function SearchProvider() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const queryKey = ['web-search-provider', organization];
  const provider = useQuery({
    queryKey,
    queryFn: async () => {
      try {
        return await get<WebSearchProviderSummary>(inOrganization(PROVIDER_PATH, organization));
      } catch (error) {
        if (error instanceof ApiFailure && error.status === 404) return null;
        throw error;
      }
    },
    retry: false,
  });
  const [kind, setKind] = useState('searxng');
  const [endpoint, setEndpoint] = useState('');
  const [apiKey, setApiKey] = useState('');
  const set = useMutation({
    mutationFn: () =>
      api<WebSearchProviderSummary>('PUT', inOrganization(PROVIDER_PATH, organization), {
        kind,
        ...(endpoint.trim() && { endpoint: endpoint.trim() }),
        ...(apiKey && { api_key: apiKey }),
      }),
    onSuccess: (summary) => {
      // The key leaves the page once it is sealed.
      setApiKey('');
      queryClient.setQueryData(queryKey, summary);
    },
  });
  const drop = useMutation({
    mutationFn: () => remove(inOrganization(PROVIDER_PATH, organization)),
    onSuccess: () => queryClient.setQueryData(queryKey, null),
  });
  const current = provider.data;
  return (
    <section aria-label="Search provider" className="rounded border border-slate-200 bg-white p-4">
      <h2 className="mb-2 text-lg font-semibold">Search provider</h2>
      <p className="mb-3 text-sm text-slate-600">Where web-search of the organization's executions goes; without one, web-search fails, saying so.</p>
      {current ? (
        <dl className="grid grid-cols-2 gap-x-6 gap-y-1 text-sm md:grid-cols-4" data-testid="search-provider">
          {[
            ['Kind', current.kind],
            ['Endpoint', current.endpoint ?? "the provider's public API"],
            ['API key', current.api_key ?? 'none'],
            ['Set', new Date(current.updated_at).toLocaleString()],
          ].map(([label, value]) => (
            <div key={label}>
              <dt className="text-slate-500">{label}</dt>
              <dd className="break-all">{value}</dd>
            </div>
          ))}
        </dl>
      ) : (
        current === null && <p className="text-sm">No search provider is set.</p>
      )}
      <ErrorMessage error={provider.error ?? drop.error} />
      {can('admin') && (
        <>
          {current && (
            <Button tone="danger" className="mt-3" onClick={() => drop.mutate()} disabled={drop.isPending}>
              Delete search provider
            </Button>
          )}
          <CreateForm submitLabel="Set search provider" pending={set.isPending} error={set.error} onSubmit={() => set.mutate()}>
            <Field label="Provider">
              <Choice value={kind} onChange={setKind} choices={PROVIDER_KINDS} />
            </Field>
            <Field label="Endpoint" hint={kind === 'searxng' ? "the instance's URL" : "empty: the provider's public API"}>
              <input className={inputClass} value={endpoint} onChange={(event) => setEndpoint(event.target.value)} placeholder="https://searx.example.com" />
            </Field>
            {kind !== 'searxng' && (
              <Field label="Provider API key" hint="sealed; never shown again">
                <input className={inputClass} type="password" autoComplete="off" value={apiKey} onChange={(event) => setApiKey(event.target.value)} />
              </Field>
            )}
          </CreateForm>
        </>
      )}
    </section>
  );
}
