import type { WebhookDeliveryStatus } from '@airlock/contracts';
import type { Queryable } from './database.js';
import { nodeCondition, type NodeScope } from './node-scope.js';
import { EXECUTION_COLUMNS, toExecution, type Execution, type ExecutionRow } from './execution-repository.js';
import { selectColumns, unprefixRow } from './sql-columns.js';
import { withoutNul } from './sql-text.js';

export type { WebhookDeliveryStatus };

/** One execution's webhook delivery (queued by ExecutionRepository when the execution finishes). */
export interface WebhookDelivery {
  traceId: string;
  orgId: string;
  url: string;
  status: WebhookDeliveryStatus;
  /** Attempts made so far. */
  attempts: number;
  nextAttemptAt: Date;
  createdAt: Date;
  completedAt: Date | null;
}

/** A delivery claimed for an attempt, with what the attempt sends: the execution's record and the signing secret. */
export interface ClaimedDelivery extends WebhookDelivery {
  /** Null when the record is gone. */
  execution: Execution | null;
  /** The sandbox config's sealed signing secret; null when it has none yet or the config is gone. */
  sealedSecret: string | null;
}

export interface WebhookAttempt {
  attempt: number;
  attemptedAt: Date;
  /** The receiver's HTTP status, or null when it gave none (refused, timed out, unreachable, destination refused). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** A delivery as an organization's list shows it: with its last attempt, null before the first. */
export interface ListedDelivery extends WebhookDelivery {
  lastAttempt: WebhookAttempt | null;
}

/** What asking for a delivery again found: it was queued again, or its state refused it. */
export type RequeueOutcome = { requeued: true } | { requeued: false; status: Exclude<WebhookDeliveryStatus, 'failed'> };

/** What follows an attempt: the delivery is done, is tried again at a time, or has failed for good. */
export type AttemptOutcome = { status: 'delivered' } | { status: 'pending'; retryAt: Date } | { status: 'failed' };

interface DeliveryRow {
  trace_id: string;
  org_id: string;
  url: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  created_at: Date;
  completed_at: Date | null;
}

const SELECT_LIST = 'trace_id, org_id, url, status, attempts, next_attempt_at, created_at, completed_at';
/** A claimed delivery's row: its columns, the execution's prefixed `e_` (all null without a record), the secret. */
type ClaimedRow = DeliveryRow & Record<string, unknown> & { sealed_secret: string | null; e_trace_id: string | null };

const CLAIMED_EXECUTION_COLUMNS = selectColumns(EXECUTION_COLUMNS, { tableAlias: 'e', prefix: 'e_' });

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    traceId: row.trace_id,
    orgId: row.org_id,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    completedAt: row.completed_at,
  };
}

/** The webhook outbox: deliveries claimed by one node at a time, attempts recorded, and the signing secrets. */
export class WebhookRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  /**
   * Claims up to `limit` deliveries that are due and not claimed by a live claim, for `claimSeconds`, each with its
   * execution's record and sealed signing secret (one round trip for what an attempt needs). Several nodes may claim
   * at once: each delivery goes to one of them.
   */
  async claimDue(nodeId: string, options: { limit: number; claimSeconds: number }): Promise<ClaimedDelivery[]> {
    const rows = await this.#database.query<ClaimedRow>(
      `WITH claimed AS (
         UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = now() + make_interval(secs => $3)
         WHERE trace_id IN (
           SELECT trace_id FROM webhook_deliveries
           WHERE status = 'pending' AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
           ORDER BY next_attempt_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED)
         RETURNING ${SELECT_LIST})
       SELECT claimed.*, ${CLAIMED_EXECUTION_COLUMNS}, c.webhook_secret AS sealed_secret
       FROM claimed
       LEFT JOIN executions e ON e.trace_id = claimed.trace_id
       LEFT JOIN sandbox_configs c ON c.id = e.sandbox_config_id
       ORDER BY claimed.next_attempt_at`,
      [nodeId, options.limit, options.claimSeconds],
    );
    return rows.map((row) => ({
      ...toDelivery(row),
      execution: row.e_trace_id === null ? null : toExecution(unprefixRow(row, 'e_') as unknown as ExecutionRow),
      sealedSecret: row.sealed_secret,
    }));
  }

  /** When the next pending delivery is due, or null when none is pending. */
  async nextDueAt(): Promise<Date | null> {
    const [row] = await this.#database.query<{ due: Date | null }>(
      `SELECT min(greatest(next_attempt_at, coalesce(claimed_until, next_attempt_at))) AS due
       FROM webhook_deliveries WHERE status = 'pending'`,
    );
    return row?.due ?? null;
  }

  /**
   * Records an attempt made under `nodeId`'s claim and applies its outcome, releasing the claim. Returns false when
   * the claim had lapsed and another node took the delivery over (the attempt is then not recorded).
   */
  async recordAttempt(traceId: string, nodeId: string, attempt: WebhookAttempt, outcome: AttemptOutcome): Promise<boolean> {
    const rows = await this.#database.query(
      `WITH updated AS (
         UPDATE webhook_deliveries SET
           attempts = $3, status = $8,
           next_attempt_at = coalesce($9, next_attempt_at),
           completed_at = CASE WHEN $8 = 'pending' THEN NULL ELSE now() END,
           claimed_by = NULL, claimed_until = NULL
         WHERE trace_id = $1 AND claimed_by = $2
         RETURNING trace_id)
       INSERT INTO webhook_attempts (trace_id, attempt, attempted_at, status_code, error, duration_ms)
       SELECT trace_id, $3, $4, $5, $6, $7 FROM updated
       ON CONFLICT (trace_id, attempt) DO NOTHING
       RETURNING trace_id`,
      [
        traceId,
        nodeId,
        attempt.attempt,
        attempt.attemptedAt,
        attempt.statusCode,
        attempt.error === null ? null : withoutNul(attempt.error),
        Math.round(attempt.durationMs),
        outcome.status,
        outcome.status === 'pending' ? outcome.retryAt : null,
      ],
    );
    return rows.length === 1;
  }

  /** Gives up the claims held by the nodes of `scope` (a node starting after it stopped mid-attempt, or gone ones). */
  async releaseClaims(scope: NodeScope): Promise<number> {
    const held = nodeCondition('claimed_by', scope, 1);
    const rows = await this.#database.query(
      `UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by IS NOT NULL AND ${held.sql} RETURNING trace_id`,
      held.values,
    );
    return rows.length;
  }

  /** The delivery of an execution with its attempts, oldest first; null when absent or in another organization. */
  async get(orgId: string, traceId: string): Promise<(WebhookDelivery & { attemptLog: WebhookAttempt[] }) | null> {
    const [row] = await this.#database.query<DeliveryRow>(
      `SELECT ${SELECT_LIST} FROM webhook_deliveries WHERE org_id = $1 AND trace_id = $2`,
      [orgId, traceId],
    );
    if (!row) return null;
    const attempts = await this.#database.query<{
      attempt: number;
      attempted_at: Date;
      status_code: number | null;
      error: string | null;
      duration_ms: number;
    }>(
      `SELECT attempt, attempted_at, status_code, error, duration_ms FROM webhook_attempts
       WHERE trace_id = $1 ORDER BY attempt`,
      [traceId],
    );
    return {
      ...toDelivery(row),
      attemptLog: attempts.map((attempt) => ({
        attempt: attempt.attempt,
        attemptedAt: attempt.attempted_at,
        statusCode: attempt.status_code,
        error: attempt.error,
        durationMs: attempt.duration_ms,
      })),
    };
  }

  /**
   * An organization's deliveries newest first (by when they were queued, to the millisecond, then trace id), each
   * with its last attempt: `limit` of them after `after`, with `status` only when given.
   */
  async list(
    orgId: string,
    options: { status?: WebhookDeliveryStatus; limit: number; after?: { createdAt: Date; traceId: string } },
  ): Promise<ListedDelivery[]> {
    const rows = await this.#database.query<
      DeliveryRow & { last_attempt: number | null; last_attempted_at: Date | null; last_status_code: number | null; last_error: string | null; last_duration_ms: number | null }
    >(
      `SELECT d.trace_id, d.org_id, d.url, d.status, d.attempts, d.next_attempt_at, d.created_at, d.completed_at,
         a.attempt AS last_attempt, a.attempted_at AS last_attempted_at, a.status_code AS last_status_code,
         a.error AS last_error, a.duration_ms AS last_duration_ms
       FROM webhook_deliveries d
       LEFT JOIN LATERAL (
         SELECT attempt, attempted_at, status_code, error, duration_ms FROM webhook_attempts
         WHERE trace_id = d.trace_id ORDER BY attempt DESC LIMIT 1) a ON true
       WHERE d.org_id = $1 AND ($2::text IS NULL OR d.status = $2)
         AND ($3::timestamptz IS NULL OR (date_trunc('milliseconds', d.created_at), d.trace_id) < ($3, $4))
       ORDER BY date_trunc('milliseconds', d.created_at) DESC, d.trace_id DESC
       LIMIT $5`,
      [orgId, options.status ?? null, options.after?.createdAt ?? null, options.after?.traceId ?? null, options.limit],
    );
    return rows.map((row) => ({
      ...toDelivery(row),
      lastAttempt:
        row.last_attempt === null
          ? null
          : {
              attempt: row.last_attempt,
              attemptedAt: row.last_attempted_at as Date,
              statusCode: row.last_status_code,
              error: row.last_error,
              durationMs: row.last_duration_ms as number,
            },
    }));
  }

  /**
   * Queues a failed delivery again, due now, for one more attempt (the attempt count goes on, so a failing attempt
   * fails it again). A delivered or pending one is left as it is and its state returned; null when the organization
   * has no delivery for the execution.
   */
  async requeue(orgId: string, traceId: string): Promise<RequeueOutcome | null> {
    const [row] = await this.#database.query<{ status: WebhookDeliveryStatus }>(
      `WITH target AS (
         SELECT trace_id, status FROM webhook_deliveries WHERE org_id = $1 AND trace_id = $2 FOR UPDATE),
       requeued AS (
         UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), completed_at = NULL
         FROM target WHERE d.trace_id = target.trace_id AND target.status = 'failed'
         RETURNING d.trace_id)
       SELECT status FROM target`,
      [orgId, traceId],
    );
    if (!row) return null;
    return row.status === 'failed' ? { requeued: true } : { requeued: false, status: row.status };
  }

  /** A sandbox config's sealed webhook secret, or null while it has none. */
  async sealedSecret(sandboxConfigId: string): Promise<string | null> {
    const [row] = await this.#database.query<{ webhook_secret: string | null }>(
      'SELECT webhook_secret FROM sandbox_configs WHERE id = $1',
      [sandboxConfigId],
    );
    return row?.webhook_secret ?? null;
  }

  /**
   * Stores `sealed` as the config's secret: always with `replace`, else only when it has none. Returns the secret
   * stored afterwards (another node's, when it set one first), or null when the config does not exist.
   */
  async storeSecret(sandboxConfigId: string, sealed: string, options: { replace: boolean }): Promise<string | null> {
    const [row] = await this.#database.query<{ webhook_secret: string }>(
      `UPDATE sandbox_configs SET webhook_secret = CASE WHEN $3 OR webhook_secret IS NULL THEN $2 ELSE webhook_secret END
       WHERE id = $1 RETURNING webhook_secret`,
      [sandboxConfigId, sealed, options.replace],
    );
    return row?.webhook_secret ?? null;
  }
}
