import { ADMIN_EXECUTION_PAGE_LIMIT, ErrorCode, type AdminWebhookDelivery, type AdminWebhookPage, type AdminWebhookQuery, type WebhookDeliveryResponse } from '@airlock/contracts';
import type { ExecutionRepository, ListedDelivery, WebhookRepository } from '@airlock/db';
import { ApiError } from '../shared/api-error.js';
import { decodeCursor, encodeCursor } from '../shared/cursor.js';

export interface WebhookOutboxBrowserOptions {
  deliveries: WebhookRepository;
  executions: ExecutionRepository;
  /** An execution's delivery with every attempt, as the executions API shows it. */
  describe: (orgId: string, traceId: string) => Promise<WebhookDeliveryResponse>;
  /** Told when a delivery was queued again, so it is attempted now. */
  onRequeued: () => void;
}

/** An organization's webhook deliveries as its operators see them: pages by state, and failed ones sent again. */
export class WebhookOutboxBrowser {
  readonly #options: WebhookOutboxBrowserOptions;

  constructor(options: WebhookOutboxBrowserOptions) {
    this.#options = options;
  }

  async page(orgId: string, query: AdminWebhookQuery): Promise<AdminWebhookPage> {
    const limit = query.limit ?? ADMIN_EXECUTION_PAGE_LIMIT.default;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, ['date', 'string']);
    const rows = await this.#options.deliveries.list(orgId, {
      limit: limit + 1,
      ...(query.status !== undefined && { status: query.status }),
      ...(after && { after: { createdAt: after[0], traceId: after[1] } }),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      deliveries: page.map(toAdminDelivery),
      next_cursor: rows.length > limit && last ? encodeCursor([last.createdAt.toISOString(), last.traceId]) : null,
    };
  }

  /**
   * Queues a failed delivery again for one more attempt, due now (the destination is checked again when it is made),
   * and answers the delivery. 409 `conflict` for one delivered, pending, or not queued yet (its execution runs).
   */
  async retry(orgId: string, traceId: string): Promise<WebhookDeliveryResponse> {
    const outcome = await this.#options.deliveries.requeue(orgId, traceId);
    if (outcome === null) {
      const execution = await this.#options.executions.get(orgId, traceId);
      if (!execution) throw ApiError.notFound(`no execution ${traceId} in this organization`);
      if (execution.webhookUrl === null) throw ApiError.notFound(`execution ${traceId} has no webhook_url`);
      throw new ApiError(ErrorCode.conflict, `execution ${traceId} is still running; its webhook is sent when it finishes`);
    }
    if (!outcome.requeued) {
      throw new ApiError(
        ErrorCode.conflict,
        outcome.status === 'delivered'
          ? `the webhook of execution ${traceId} was delivered; there is nothing to retry`
          : `the webhook of execution ${traceId} is pending: its next attempt is already queued`,
      );
    }
    this.#options.onRequeued();
    return this.#options.describe(orgId, traceId);
  }
}

function toAdminDelivery(delivery: ListedDelivery): AdminWebhookDelivery {
  return {
    trace_id: delivery.traceId,
    url: delivery.url,
    status: delivery.status,
    attempts: delivery.attempts,
    last_attempt_at: delivery.lastAttempt?.attemptedAt.toISOString() ?? null,
    last_status_code: delivery.lastAttempt?.statusCode ?? null,
    last_error: delivery.lastAttempt?.error ?? null,
    next_attempt_at: delivery.status === 'pending' ? delivery.nextAttemptAt.toISOString() : null,
    created_at: delivery.createdAt.toISOString(),
    completed_at: delivery.completedAt?.toISOString() ?? null,
  };
}
