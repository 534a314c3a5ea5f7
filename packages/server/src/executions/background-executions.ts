import type { ExecuteRequest, ExecuteAcceptedResponse, WebhookDeliveryResponse } from '@airlock/contracts';
import type { ExecutionRepository, WebhookRepository } from '@airlock/db';
import { DestinationError, parseWebhookUrl, resolveDestination, type DestinationPolicy } from '../webhooks/webhook-destination.js';
import { ApiError } from '../shared/api-error.js';
import type { Principal } from '../auth/api-key-service.js';
import type { ExecuteOptions, ExecutionService } from './execution-service.js';

/** Executions answered at once (`Prefer: respond-async`), their results delivered to a webhook or polled. */
export class BackgroundExecutions {
  readonly #executions: ExecutionService;
  readonly #records: ExecutionRepository;
  readonly #deliveries: WebhookRepository;
  readonly #policy: DestinationPolicy;

  constructor(options: {
    executions: ExecutionService;
    records: ExecutionRepository;
    deliveries: WebhookRepository;
    policy: DestinationPolicy;
  }) {
    this.#executions = options.executions;
    this.#records = options.records;
    this.#deliveries = options.deliveries;
    this.#policy = options.policy;
  }

  /**
   * Starts the execution and resolves with its trace id once it runs and is recorded; its result goes to
   * `webhook_url`, if given, and to the executions API. Errors before it starts (a refused webhook destination, a
   * busy thread, no sandbox) reject as they would inline.
   */
  async start(principal: Principal, request: ExecuteRequest, options: Omit<ExecuteOptions, 'answer'>): Promise<ExecuteAcceptedResponse> {
    const { acceptedAt, idempotency } = options;
    const webhookUrl = request.webhook_url === undefined ? undefined : await this.#acceptWebhookUrl(request.webhook_url);
    return new Promise((resolve, reject) => {
      let recorded = false;
      const onRecorded = (traceId: string) => {
        recorded = true;
        resolve({ trace_id: traceId, status: 'running' });
      };
      this.#executions.execute(principal, request, { acceptedAt, idempotency, answer: { mode: 'webhook', webhookUrl, onRecorded } }).catch((error: unknown) => {
        // Failures after the record was written are in the record, and so in the webhook, already.
        if (!recorded) reject(error);
      });
    });
  }

  /** The webhook delivery of an execution and its attempts. */
  /** An execution's webhook delivery and its attempts; 404 for an execution of another organization or without a webhook. */
  async delivery(orgId: string, traceId: string): Promise<WebhookDeliveryResponse> {
    const execution = await this.#records.get(orgId, traceId);
    if (!execution) throw ApiError.notFound(`no execution ${traceId} in this organization`);
    if (execution.webhookUrl === null) throw ApiError.notFound(`execution ${traceId} has no webhook_url`);
    const delivery = await this.#deliveries.get(orgId, traceId);
    return {
      url: execution.webhookUrl,
      // Until the execution finishes there is nothing to deliver yet.
      status: delivery?.status ?? 'pending',
      attempts: (delivery?.attemptLog ?? []).map((attempt) => ({
        attempt: attempt.attempt,
        attempted_at: attempt.attemptedAt.toISOString(),
        status_code: attempt.statusCode,
        error: attempt.error,
        duration_ms: attempt.durationMs,
      })),
      next_attempt_at: delivery?.status === 'pending' ? delivery.nextAttemptAt.toISOString() : null,
    };
  }

  async #acceptWebhookUrl(raw: string): Promise<string> {
    try {
      const url = parseWebhookUrl(raw, this.#policy);
      await resolveDestination(url, this.#policy);
      return url.href;
    } catch (error) {
      if (error instanceof DestinationError) throw ApiError.validation(`webhook_url: ${error.message}`);
      throw error;
    }
  }
}
