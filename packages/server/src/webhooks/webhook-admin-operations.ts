import { AdminExecutionPath, AdminWebhookPage, AdminWebhookQuery, ErrorCode, OrganizationQuery, WebhookDeliveryResponse } from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { WebhookOutboxBrowser } from './webhook-outbox-browser.js';

/**
 * An organization's webhook deliveries for its operators: the list by state, and a failed one sent again. `deliveries`
 * is read when a request comes, not when the routes are declared.
 */
export function webhookAdminOperations(
  deliveries: { readonly webhooks: WebhookOutboxBrowser },
  organizations: { organization(slug?: string): Promise<{ id: string }> },
  declare: DeclareAdminOperation,
): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/webhooks',
      operationId: 'adminListWebhookDeliveries',
      audit: { action: 'webhook.list', target: 'webhook' },
      summary: "List an organization's webhook deliveries",
      description: 'Newest first, each with its state, attempts and last answer, a page at a time (`next_cursor`).',
      query: AdminWebhookQuery,
      response: AdminWebhookPage,
      codes: [],
      handle: async (context, { query }) => context.json(await deliveries.webhooks.page((await organizations.organization(query.organization)).id, query)),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/executions/{trace_id}/webhook/retry',
      operationId: 'adminRetryWebhook',
      audit: { action: 'webhook.retry', target: 'execution' },
      role: 'admin',
      summary: "Send a failed execution's webhook again",
      description:
        'Queues a delivery that failed for one more attempt, due now; the destination is checked again as at every ' +
        'attempt. 409 `conflict` for a delivery that was delivered or is pending.',
      query: OrganizationQuery,
      params: AdminExecutionPath,
      response: WebhookDeliveryResponse,
      codes: [ErrorCode.conflict],
      handle: async (context, { query, params }) => context.json(await deliveries.webhooks.retry((await organizations.organization(query.organization)).id, params.trace_id)),
    }),
  ];
}
