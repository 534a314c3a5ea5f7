import type { AuditEntry, AuditVerifyResponse } from '@airlock/contracts';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { get, inOrganization, post } from '../api.js';
import { Button, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { useSession } from '../session.js';

const OUTCOMES = ['', 'success', 'failure', 'denied'];

/** The organization's audit log, newest first, with filters, and a check of its hash chain. */
export function AuditPage() {
  const { organization } = useSession();
  const [action, setAction] = useState('');
  const [outcome, setOutcome] = useState('');
  const query = new URLSearchParams({ limit: '100', ...(action && { action }), ...(outcome && { outcome }) });
  const entries = useQuery({
    queryKey: ['audit', organization, action, outcome],
    queryFn: () => get<{ entries: AuditEntry[] }>(inOrganization(`/admin/v1/audit?${query.toString()}`, organization)),
  });
  const verify = useMutation({ mutationFn: () => post<AuditVerifyResponse>('/admin/v1/audit/verify', { organization }) });
  const report = verify.data?.chains[0];
  return (
    <>
      <PageTitle description="Every change, refusal and sign-in, hash-chained: an entry changed afterwards breaks the chain.">Audit</PageTitle>
      <div className="mb-4 flex flex-wrap items-end gap-3">
        <Field label="Action">
          <input className={inputClass} value={action} onChange={(event) => setAction(event.target.value)} placeholder="api_key" />
        </Field>
        <Field label="Outcome">
          <select className={inputClass} value={outcome} onChange={(event) => setOutcome(event.target.value)}>
            {OUTCOMES.map((choice) => (
              <option key={choice} value={choice}>
                {choice || 'any'}
              </option>
            ))}
          </select>
        </Field>
        <Button onClick={() => verify.mutate()} disabled={verify.isPending}>
          Verify the chain
        </Button>
        {report && (
          <p role="status" className={report.ok ? 'text-green-800' : 'text-red-800'}>
            {report.ok ? `Chain intact: ${report.entries} entries.` : `Broken at entry ${report.broken?.seq}: ${report.broken?.reason}`}
          </p>
        )}
      </div>
      <ErrorMessage error={entries.error ?? verify.error} />
      <Table
        caption="Audit entries"
        headers={['Time', 'Actor', 'Action', 'Target', 'Outcome', 'Reason']}
        rows={(entries.data?.entries ?? []).map((entry) => [
          new Date(entry.occurred_at).toLocaleString(),
          entry.actor,
          <code key="action">{entry.action}</code>,
          entry.target_id ?? '',
          entry.outcome,
          entry.reason ?? '',
        ])}
        empty="No entry matches."
      />
    </>
  );
}
