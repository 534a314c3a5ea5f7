import type { Queryable } from './database.js';
import { nodeCondition, type NodeScope } from './node-scope.js';
import type { ThreadRetention } from './sandbox-config-repository.js';

export interface Thread {
  orgId: string;
  threadId: string;
  /** Layer digests, oldest first. */
  layers: string[];
  busyTraceId: string | null;
  retention: ThreadRetention;
  createdAt: Date;
  lastUsedAt: Date;
}

interface ThreadRow {
  org_id: string;
  thread_id: string;
  layers: string[];
  busy_trace_id: string | null;
  retention: ThreadRetention;
  created_at: Date;
  last_used_at: Date;
}

const COLUMNS = 'org_id, thread_id, layers, busy_trace_id, retention, created_at, last_used_at';

const RETENTION_INTERVAL: Record<Exclude<ThreadRetention, 'forever'>, string> = {
  '24h': '24 hours',
  '7d': '7 days',
  '30d': '30 days',
};

/** Executions last at most an hour (LIMITS.timeoutMaxSeconds); a hold this old is a dead node's. */
export const STALE_HOLD_MINUTES = 90;

function toThread(row: ThreadRow): Thread {
  return {
    orgId: row.org_id,
    threadId: row.thread_id,
    layers: row.layers,
    busyTraceId: row.busy_trace_id,
    retention: row.retention,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

/** Threads and the one-execution-per-thread lock, which lives in the database so it holds across server nodes. */
export class ThreadRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  /**
   * Takes the thread for one execution, creating it on first use. Returns its layers, or null when another
   * execution holds it. Atomic: of two concurrent calls for the same thread exactly one succeeds. A hold older than
   * STALE_HOLD_MINUTES (longer than any execution and its save) belongs to a node that died and is taken over.
   */
  async acquire(options: {
    orgId: string;
    threadId: string;
    traceId: string;
    nodeId: string;
    retention: ThreadRetention;
  }): Promise<string[] | null> {
    const rows = await this.#database.query<{ layers: string[] }>(
      `INSERT INTO threads (org_id, thread_id, busy_trace_id, busy_node_id, busy_since, retention)
       VALUES ($1, $2, $3, $4, now(), $5)
       ON CONFLICT (org_id, thread_id) DO UPDATE
         SET busy_trace_id = EXCLUDED.busy_trace_id, busy_node_id = EXCLUDED.busy_node_id, busy_since = now(),
             retention = EXCLUDED.retention, last_used_at = now()
         WHERE threads.busy_trace_id IS NULL OR threads.busy_since < now() - make_interval(mins => $6)
       RETURNING layers`,
      [options.orgId, options.threadId, options.traceId, options.nodeId, options.retention, STALE_HOLD_MINUTES],
    );
    return rows[0]?.layers ?? null;
  }

  /**
   * Releases the thread held by `traceId`, appending `layer` when given (the save of the call's changes: one
   * statement, so the layer list advances only together with the release). Returns false when the execution did not
   * hold it.
   */
  async release(options: { orgId: string; threadId: string; traceId: string; layer?: string }): Promise<boolean> {
    const rows = await this.#database.query(
      `UPDATE threads
         SET busy_trace_id = NULL, busy_node_id = NULL, busy_since = NULL,
             layers = CASE WHEN $4::text IS NULL THEN layers ELSE layers || $4::text END, last_used_at = now()
       WHERE org_id = $1 AND thread_id = $2 AND busy_trace_id = $3
       RETURNING thread_id`,
      [options.orgId, options.threadId, options.traceId, options.layer ?? null],
    );
    return rows.length === 1;
  }

  /**
   * Releases every thread held by the nodes of `scope`, without changing its layers: the node starting again after a
   * crash, or the nodes that stopped beating.
   */
  async releaseAbandoned(scope: NodeScope): Promise<number> {
    const held = nodeCondition('busy_node_id', scope, 1);
    const rows = await this.#database.query(
      `UPDATE threads SET busy_trace_id = NULL, busy_node_id = NULL, busy_since = NULL
       WHERE busy_trace_id IS NOT NULL AND ${held.sql}
       RETURNING thread_id`,
      held.values,
    );
    return rows.length;
  }

  /**
   * Creates `target` with the layers `source` has now (its last complete state, even while an execution holds it).
   * Returns 'created', or why not: no such source, or the target exists.
   */
  async fork(options: {
    orgId: string;
    source: string;
    target: string;
    retention: ThreadRetention;
  }): Promise<'created' | 'no_source' | 'target_exists'> {
    const rows = await this.#database.query(
      `INSERT INTO threads (org_id, thread_id, layers, retention)
       SELECT org_id, $3, layers, $4 FROM threads WHERE org_id = $1 AND thread_id = $2
       ON CONFLICT (org_id, thread_id) DO NOTHING
       RETURNING thread_id`,
      [options.orgId, options.source, options.target, options.retention],
    );
    if (rows.length === 1) return 'created';
    return (await this.get(options.orgId, options.source)) ? 'target_exists' : 'no_source';
  }

  async get(orgId: string, threadId: string): Promise<Thread | null> {
    const rows = await this.#database.query<ThreadRow>(
      `SELECT ${COLUMNS} FROM threads WHERE org_id = $1 AND thread_id = $2`,
      [orgId, threadId],
    );
    return rows[0] ? toThread(rows[0]) : null;
  }

  /**
   * Compaction: replaces the thread's first layers, if they are still `prefix`, by `merged` (their equivalent single
   * layer), keeping any layers saved on top meanwhile. Safe while an execution holds the thread: its release appends
   * its own layer to whatever the list is then. Returns whether it replaced them.
   */
  async replacePrefix(orgId: string, threadId: string, prefix: string[], merged: string): Promise<boolean> {
    const rows = await this.#database.query(
      `UPDATE threads SET layers = ARRAY[$4::text] || layers[cardinality($3::text[]) + 1:]
       WHERE org_id = $1 AND thread_id = $2 AND layers[1:cardinality($3::text[])] = $3::text[]
       RETURNING thread_id`,
      [orgId, threadId, prefix, merged],
    );
    return rows.length === 1;
  }

  /** Deletes idle threads unused for longer than their retention; returns how many. */
  async deleteExpired(): Promise<number> {
    const conditions = Object.entries(RETENTION_INTERVAL).map(
      ([retention, interval]) => `(retention = '${retention}' AND last_used_at < now() - interval '${interval}')`,
    );
    const rows = await this.#database.query(
      `DELETE FROM threads WHERE busy_trace_id IS NULL AND (${conditions.join(' OR ')}) RETURNING thread_id`,
    );
    return rows.length;
  }

  /** Every layer digest some thread uses, for garbage collection of the blob store. */
  async referencedLayers(): Promise<Set<string>> {
    const rows = await this.#database.query<{ layer: string }>('SELECT DISTINCT unnest(layers) AS layer FROM threads');
    return new Set(rows.map((row) => row.layer));
  }
}
