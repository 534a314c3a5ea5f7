import type { AdminWebhookPage, WebhookDeliveryResponse } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { get, inOrganization, post } from '../api.js';
import { Button, Choice, ErrorMessage, Field, PageTitle, Table } from '../components.js';
import { useSession } from '../session.js';

const STATUSES = ['', 'pending', 'delivered', 'failed'];

/** The organization's webhook deliveries, newest first, by state; a failed one is sent again by admins. */
export function WebhooksPage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState('');
  // The cursors of the pages before the one shown; the last is the shown page's.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const query = new URLSearchParams({ ...(status && { status }), ...(cursor && { cursor }) });
  const deliveries = useQuery({
    queryKey: ['webhooks', organization, status, cursor],
    queryFn: () => get<AdminWebhookPage>(inOrganization(`/admin/v1/webhooks?${query.toString()}`, organization)),
    // Pending deliveries are attempted while they are shown.
    refetchInterval: (current) => (current.state.data?.deliveries.some((delivery) => delivery.status === 'pending') ? 1000 : false),
  });
  const retry = useMutation({
    mutationFn: (traceId: string) => post<WebhookDeliveryResponse>(inOrganization(`/admin/v1/executions/${traceId}/webhook/retry`, organization)),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['webhooks', organization] }),
  });
  const filter = (value: string) => {
    setStatus(value);
    setCursors([]);
  };
  const nextCursor = deliveries.data?.next_cursor;
  return (
    <>
      <PageTitle description="Each execution run with a webhook_url posts its result there, retried with backoff until it is delivered or fails.">
        Webhooks
      </PageTitle>
      <div className="mb-4 flex flex-wrap items-end gap-3">
        <Field label="State">
          <Choice value={status} onChange={filter} choices={STATUSES} />
        </Field>
      </div>
      <ErrorMessage error={deliveries.error ?? retry.error} />
      <Table
        caption="Webhook deliveries"
        headers={['Queued', 'Execution', 'URL', 'State', 'Attempts', 'Last answer', 'Next attempt', '']}
        rows={(deliveries.data?.deliveries ?? []).map((delivery) => [
          new Date(delivery.created_at).toLocaleString(),
          <Link key="execution" to={`/executions?trace=${delivery.trace_id}`} className="underline" aria-label={`Execution ${delivery.trace_id}`}>
            <code>{delivery.trace_id}</code>
          </Link>,
          <code key="url" className="break-all">
            {delivery.url}
          </code>,
          delivery.status,
          delivery.attempts,
          delivery.last_attempt_at === null ? '—' : [delivery.last_status_code ?? 'no answer', delivery.last_error].filter(Boolean).join(': '),
          delivery.next_attempt_at ? new Date(delivery.next_attempt_at).toLocaleString() : '—',
          delivery.status === 'failed' && can('admin') ? (
            <Button key="retry" onClick={() => retry.mutate(delivery.trace_id)} disabled={retry.isPending} aria-label={`Retry ${delivery.trace_id}`}>
              Retry
            </Button>
          ) : null,
        ])}
        empty={deliveries.isPending ? 'Loading…' : status ? `No ${status} delivery.` : 'No webhook delivery yet.'}
      />
      <div className="mt-3 flex gap-2">
        {cursors.length > 0 && <Button onClick={() => setCursors(cursors.slice(0, -1))}>Newer</Button>}
        {nextCursor && <Button onClick={() => setCursors([...cursors, nextCursor])}>Older</Button>}
      </div>
    </>
  );
}
