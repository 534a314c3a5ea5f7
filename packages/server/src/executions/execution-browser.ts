import { ADMIN_EXECUTION_PAGE_LIMIT, type AdminExecution, type AdminExecutionDetail, type AdminExecutionQuery, type ExecutionCancelResponse } from '@airlock/contracts';
import type { Execution, ExecutionFilter, ExecutionRepository, WebhookRepository } from '@airlock/db';
import { ApiError } from '../shared/api-error.js';
import { decodeCursor, encodeCursor } from '../shared/cursor.js';
import { WebhookOutboxBrowser } from '../webhooks/webhook-outbox-browser.js';
import type { BackgroundExecutions } from './background-executions.js';
import { replayExecution } from './execute-stream.js';
import { toRecordResponse } from './execution-records.js';
import type { ExecutionService } from './execution-service.js';

/**
 * An organization's executions as its operators browse them: filtered pages, one with its webhook delivery, its
 * output live, cancelled; and the organization's webhook deliveries (`webhooks`).
 */
export class ExecutionBrowser {
  readonly webhooks: WebhookOutboxBrowser;
  readonly #executions: ExecutionRepository;
  readonly #deliveries: WebhookRepository;
  readonly #background: BackgroundExecutions;
  readonly #service: ExecutionService;

  constructor(options: {
    executions: ExecutionRepository;
    deliveries: WebhookRepository;
    background: BackgroundExecutions;
    /** Runs, replays and cancels executions, the same for operators as for API keys. */
    service: ExecutionService;
    /** Told when a webhook delivery was queued again (the dispatcher's kick). */
    onWebhookRequeued: () => void;
  }) {
    this.#executions = options.executions;
    this.#deliveries = options.deliveries;
    this.#background = options.background;
    this.#service = options.service;
    this.webhooks = new WebhookOutboxBrowser({
      deliveries: options.deliveries,
      executions: options.executions,
      describe: (orgId, traceId) => options.background.delivery(orgId, traceId),
      onRequeued: options.onWebhookRequeued,
    });
  }

  async page(orgId: string, query: AdminExecutionQuery): Promise<{ executions: AdminExecution[]; next_cursor: string | null }> {
    const limit = query.limit ?? ADMIN_EXECUTION_PAGE_LIMIT.default;
    const [metadataKey, ...value] = query.metadata?.split('=') ?? [];
    const filter: ExecutionFilter = {
      ...(query.status !== undefined && { status: query.status }),
      ...(query.api_key !== undefined && { apiKeyId: query.api_key }),
      ...(query.thread_id !== undefined && { threadId: query.thread_id }),
      ...(metadataKey !== undefined && { metadataKey }),
      ...(value.length > 0 && { metadataValue: value.join('=') }),
      ...(query.from !== undefined && { from: new Date(query.from) }),
      ...(query.to !== undefined && { to: new Date(query.to) }),
    };
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, ['date', 'string']);
    const rows = await this.#executions.list(orgId, filter, { limit: limit + 1, ...(after && { after: { createdAt: after[0], traceId: after[1] } }) });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const executions = await Promise.all(page.map((execution) => this.#summary(orgId, execution)));
    return { executions, next_cursor: rows.length > limit && last ? encodeCursor([last.createdAt.toISOString(), last.traceId]) : null };
  }

  async get(orgId: string, traceId: string): Promise<AdminExecutionDetail> {
    const execution = await this.#executions.get(orgId, traceId);
    if (!execution) throw ApiError.notFound(`no execution ${traceId} in this organization`);
    const webhook = execution.webhookUrl === null ? null : await this.#background.delivery(orgId, traceId);
    return { ...(await this.#summary(orgId, execution)), webhook };
  }

  /** The execution's NDJSON events after `afterSeq`, following it live while it runs (as `GET /v1/executions/{id}/output`). */
  async output(orgId: string, traceId: string, afterSeq: number): Promise<Response> {
    return replayExecution(this.#service, orgId, traceId, afterSeq);
  }

  /** Cancels a running execution (as `POST /v1/executions/{id}/cancel`). */
  async cancel(orgId: string, traceId: string): Promise<ExecutionCancelResponse> {
    return this.#service.cancel(orgId, traceId);
  }

  async #summary(orgId: string, execution: Execution): Promise<AdminExecution> {
    const delivery = execution.webhookUrl === null ? null : await this.#deliveries.get(orgId, execution.traceId);
    return {
      ...toRecordResponse(execution, delivery?.status ?? (execution.webhookUrl === null ? null : 'pending')),
      language: execution.language,
      code: execution.code,
      api_key_id: execution.apiKeyId,
      sandbox_config_id: execution.sandboxConfigId,
      thread_id: execution.threadId,
      peak_memory_bytes: execution.peakMemoryBytes,
      cpu_time_ms: execution.cpuTimeMs,
      started_at: execution.startedAt?.toISOString() ?? null,
    };
  }
}
