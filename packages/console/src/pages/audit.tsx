import type { AuditEntry, AuditVerifyResponse } from '@airlock/contracts';
import { useInfiniteQuery, useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { get, inOrganization, post } from '../api.js';
import { Button, Choice, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { downloadJsonLines, fileTimestamp } from '../download.js';
import { useSession } from '../session.js';
import { useTimeRange } from '../time-range.js';

const OUTCOMES = ['', 'success', 'failure', 'denied'];

/** The organization's audit log, newest first, with filters, and a check of its hash chain. */
export function AuditPage() {
  const { organization } = useSession();
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [target, setTarget] = useState('');
  const [outcome, setOutcome] = useState('');
  const time = useTimeRange();
  const filter = new URLSearchParams({
    ...time.bounds,
    ...(action && { action }),
    ...(actor && { actor }),
    ...(target && { target_id: target }),
    ...(outcome && { outcome }),
  });
  const path = inOrganization(`/admin/v1/audit?${filter.toString()}`, organization);
  const entries = useInfiniteQuery({
    queryKey: ['audit', path],
    initialPageParam: '',
    queryFn: ({ pageParam }) => get<{ entries: AuditEntry[]; next_cursor: string | null }>(`${path}&limit=100${pageParam && `&cursor=${encodeURIComponent(pageParam)}`}`),
    getNextPageParam: (page) => page.next_cursor ?? undefined,
  });
  const verify = useMutation({ mutationFn: () => post<AuditVerifyResponse>('/admin/v1/audit/verify', { organization }) });
  // The export is itself recorded in the log.
  const download = useMutation({ mutationFn: () => downloadJsonLines(path, `airlock-audit-${fileTimestamp()}.jsonl`) });
  const report = verify.data?.chains[0];
  return (
    <>
      <PageTitle description="Every change, refusal and sign-in, hash-chained: an entry changed afterwards breaks the chain.">Audit</PageTitle>
      <div className="mb-4 flex flex-wrap items-end gap-3">
        {time.fields}
        <Field label="Action">
          <input className={inputClass} value={action} onChange={(event) => setAction(event.target.value)} placeholder="api_key" />
        </Field>
        <Field label="Actor">
          <input className={inputClass} value={actor} onChange={(event) => setActor(event.target.value)} placeholder="someone@example.com" />
        </Field>
        <Field label="Target">
          <input className={inputClass} value={target} onChange={(event) => setTarget(event.target.value)} placeholder="key_... or a name" />
        </Field>
        <Field label="Outcome">
          <Choice value={outcome} onChange={setOutcome} choices={OUTCOMES} />
        </Field>
        <Button onClick={() => verify.mutate()} disabled={verify.isPending}>
          Verify the chain
        </Button>
        <Button onClick={() => download.mutate()} disabled={download.isPending}>
          Export JSON Lines
        </Button>
        {report && (
          <p role="status" className={report.ok ? 'text-green-800' : 'text-red-800'}>
            {report.ok ? `Chain intact: ${report.entries} entries.` : `Broken at entry ${report.broken?.seq}: ${report.broken?.reason}`}
          </p>
        )}
      </div>
      <ErrorMessage error={entries.error ?? verify.error ?? download.error} />
      <Table
        caption="Audit entries"
        headers={['Time', 'Actor', 'Action', 'Target', 'Outcome', 'Reason']}
        rows={(entries.data?.pages.flatMap((page) => page.entries) ?? []).map((entry) => [
          new Date(entry.occurred_at).toLocaleString(),
          entry.actor,
          <code key="action">{entry.action}</code>,
          entry.target_id ?? '',
          entry.outcome,
          entry.reason ?? '',
        ])}
        empty="No entry matches."
      />
      {entries.hasNextPage && (
        <Button className="mt-3" onClick={() => void entries.fetchNextPage()} disabled={entries.isFetchingNextPage}>
          Show older entries
        </Button>
      )}
    </>
  );
}
