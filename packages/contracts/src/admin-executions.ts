import { z } from 'zod';
import { OrganizationSlug } from './admin.js';
import { EXECUTION_RECORD_STATUSES, ExecutionRecordResponse, WebhookDeliveryResponse, WebhookDeliveryStatus } from './responses.js';
import { Text } from './text.js';

/** An organization's executions as its operators browse them (`/admin/v1/executions`). */

export const ADMIN_EXECUTION_PAGE_LIMIT = { default: 50, max: 500 } as const;

/** `?limit=`: a page's size, at most ADMIN_EXECUTION_PAGE_LIMIT.max. */
function pageLimit() {
  return z
    .string()
    .regex(/^\d+$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(ADMIN_EXECUTION_PAGE_LIMIT.max))
    .optional()
    .describe(`at most ${ADMIN_EXECUTION_PAGE_LIMIT.max}; default ${ADMIN_EXECUTION_PAGE_LIMIT.default}`);
}

export const AdminExecutionQuery = z.strictObject({
  organization: OrganizationSlug.optional(),
  status: z.enum(EXECUTION_RECORD_STATUSES).optional(),
  api_key: Text.optional().describe('an API key id (`key_...`)'),
  thread_id: Text.optional(),
  metadata: z
    .string()
    .max(600)
    // eslint-disable-next-line no-control-regex -- NUL is refused; a pattern shows it in the document
    .regex(/^[^=\u0000]{1,64}(=[^\u0000]{0,512})?$/, 'key or key=value')
    .optional()
    .describe('`key` (the execution has it) or `key=value`'),
  from: z.iso.datetime().optional().describe('created at or after'),
  to: z.iso.datetime().optional().describe('created before'),
  limit: pageLimit(),
  cursor: Text.optional().describe('`next_cursor` of the page before'),
});
export type AdminExecutionQuery = z.infer<typeof AdminExecutionQuery>;

/** An execution as the operators see it: its record, plus who ran what, where and with which resources. */
export const AdminExecution = ExecutionRecordResponse.extend({
  language: z.string(),
  code: z.string(),
  api_key_id: z.string().nullable(),
  sandbox_config_id: z.string().nullable(),
  thread_id: z.string().nullable(),
  peak_memory_bytes: z.number().nullable(),
  cpu_time_ms: z.number().nullable(),
  started_at: z.iso.datetime().nullable(),
}).meta({ id: 'AdminExecution' });
export type AdminExecution = z.infer<typeof AdminExecution>;

export const AdminExecutionPage = z.object({
  executions: z.array(AdminExecution).describe('newest first'),
  next_cursor: z.string().nullable(),
});

export const AdminExecutionDetail = AdminExecution.extend({
  webhook: WebhookDeliveryResponse.nullable().describe('its webhook delivery and attempts; null without webhook_url'),
}).meta({ id: 'AdminExecutionDetail' });
export type AdminExecutionDetail = z.infer<typeof AdminExecutionDetail>;

export const AdminExecutionPath = z.object({ trace_id: Text.describe('the trace id (`trc_...`)') });

export const AdminExecutionOutputQuery = z.strictObject({
  organization: OrganizationSlug.optional(),
  after_seq: z
    .string()
    .regex(/^-?\d+$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(-1))
    .optional()
    .describe('only events with a larger `seq`; default -1 (all)'),
});

/** An organization's webhook deliveries as its operators browse them (`/admin/v1/webhooks`). */

export const AdminWebhookQuery = z.strictObject({
  organization: OrganizationSlug.optional(),
  status: WebhookDeliveryStatus.optional(),
  limit: pageLimit(),
  cursor: Text.optional().describe('`next_cursor` of the page before'),
});
export type AdminWebhookQuery = z.infer<typeof AdminWebhookQuery>;

/** One execution's webhook delivery: where it goes, its state and its last attempt. */
export const AdminWebhookDelivery = z.object({
  trace_id: z.string(),
  url: z.string(),
  status: WebhookDeliveryStatus,
  attempts: z.number().int().describe('attempts made so far'),
  last_attempt_at: z.iso.datetime().nullable(),
  last_status_code: z.number().int().nullable().describe("the receiver's HTTP status at the last attempt; null when it gave none or none was made"),
  last_error: z.string().nullable().describe('why the last attempt did not deliver'),
  next_attempt_at: z.iso.datetime().nullable().describe('when the next attempt is due, while pending'),
  created_at: z.iso.datetime().describe('when the execution finished and the delivery was queued'),
  completed_at: z.iso.datetime().nullable().describe('when it was delivered or failed for good'),
}).meta({ id: 'AdminWebhookDelivery' });
export type AdminWebhookDelivery = z.infer<typeof AdminWebhookDelivery>;

export const AdminWebhookPage = z.object({
  deliveries: z.array(AdminWebhookDelivery).describe('newest first'),
  next_cursor: z.string().nullable(),
});
export type AdminWebhookPage = z.infer<typeof AdminWebhookPage>;
