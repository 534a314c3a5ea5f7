import type { Queryable } from './database.js';
import type { ExecutionStatus } from './execution-repository.js';

/** Executions of one UTC day, or of a whole range. */
export interface ExecutionUsage {
  executions: number;
  /** Executions per status; statuses with none are absent. */
  byStatus: Partial<Record<ExecutionStatus, number>>;
  /**
   * Median and 95th percentile of `duration_ms` of the executions that finished, interpolated between neighbours and
   * rounded to 0.1 ms; null when none finished.
   */
  p50DurationMs: number | null;
  p95DurationMs: number | null;
  /** CPU time the sandboxes used, as their cgroups accounted it. */
  cpuTimeMs: number;
}

/** An organization's use over a range of whole UTC days. */
export interface UsageReport {
  /** Every day of the range ('YYYY-MM-DD', UTC), oldest first, days without executions included. */
  days: Array<{ day: string } & ExecutionUsage>;
  /** The range as a whole (its percentiles are over all its executions, not an average of the days'). */
  range: ExecutionUsage;
  /** Threads that exist (the retention sweep deletes expired ones) and were created or used within the range. */
  activeThreads: number;
  /** `used_bytes` of the organization's volumes that are not deleted, as last measured. */
  volumeBytes: number;
  volumes: number;
  /** Volumes not measured yet, whose bytes the sum lacks. */
  unmeasuredVolumes: number;
}

interface ExecutionUsageRow {
  day: string | null;
  executions: number;
  by_status: Partial<Record<ExecutionStatus, number>> | null;
  p50: number | null;
  p95: number | null;
  cpu_time_ms: number;
}

interface StorageRow {
  active_threads: number;
  volume_bytes: number;
  volumes: number;
  unmeasured_volumes: number;
}

// Days are UTC calendar dates; the range's bounds are their midnights, compared with created_at as timestamptz so an
// index on created_at (executions_org_id_created_at_idx or executions_created_at_idx) bounds the scan. GROUPING SETS
// gives each day and the whole range in one pass.
const EXECUTIONS_SQL = `
  WITH runs AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, duration_ms, cpu_time_ms
    FROM executions
    WHERE org_id = $1
      AND created_at >= ($2::date)::timestamp AT TIME ZONE 'UTC'
      AND created_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
  ),
  statuses AS (
    SELECT day, jsonb_object_agg(status, count) AS by_status
    FROM (SELECT day, status, count(*)::integer AS count FROM runs GROUP BY day, status) AS per_status
    GROUP BY day
  ),
  measures AS (
    SELECT day, count(*)::integer AS executions,
      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::numeric, 1)::double precision AS p50,
      round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 1)::double precision AS p95,
      coalesce(sum(cpu_time_ms), 0)::double precision AS cpu_time_ms
    FROM runs GROUP BY GROUPING SETS ((day), ())
  ),
  totals AS (
    SELECT jsonb_object_agg(status, count) AS by_status
    FROM (SELECT status, count(*)::integer AS count FROM runs GROUP BY status) AS per_status
  )
  SELECT to_char(calendar.day, 'YYYY-MM-DD') AS day, coalesce(measures.executions, 0) AS executions,
    statuses.by_status, measures.p50, measures.p95, coalesce(measures.cpu_time_ms, 0) AS cpu_time_ms
  FROM generate_series($2::date::timestamp, $3::date::timestamp, interval '1 day') AS calendar(day)
  LEFT JOIN measures ON measures.day = calendar.day::date
  LEFT JOIN statuses ON statuses.day = calendar.day::date
  UNION ALL
  SELECT NULL, measures.executions, totals.by_status, measures.p50, measures.p95, measures.cpu_time_ms
  FROM measures, totals WHERE measures.day IS NULL
  ORDER BY 1 NULLS LAST`;

const STORAGE_SQL = `
  SELECT
    (SELECT count(*)::integer FROM threads
      WHERE org_id = $1 AND last_used_at >= ($2::date)::timestamp AT TIME ZONE 'UTC') AS active_threads,
    coalesce(sum(used_bytes), 0)::bigint AS volume_bytes,
    count(*)::integer AS volumes,
    (count(*) FILTER (WHERE used_bytes IS NULL))::integer AS unmeasured_volumes
  FROM volumes WHERE org_id = $1 AND deleted_at IS NULL`;

function toExecutionUsage(row: ExecutionUsageRow): ExecutionUsage {
  return {
    executions: row.executions,
    byStatus: row.by_status ?? {},
    p50DurationMs: row.p50,
    p95DurationMs: row.p95,
    cpuTimeMs: row.cpu_time_ms,
  };
}

/** What an organization used: executions per day, threads and stored bytes, computed by the database. */
export class UsageRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  /** Usage from the first through the last day ('YYYY-MM-DD', UTC, both included). */
  async report(options: { orgId: string; firstDay: string; lastDay: string }): Promise<UsageReport> {
    const parameters = [options.orgId, options.firstDay, options.lastDay];
    const [rows, [storage]] = await Promise.all([
      this.#database.query<ExecutionUsageRow>(EXECUTIONS_SQL, parameters),
      this.#database.query<StorageRow>(STORAGE_SQL, parameters.slice(0, 2)),
    ]);
    const range = rows.find((row) => row.day === null);
    const days = rows.flatMap((row) => (row.day === null ? [] : [{ day: row.day, ...toExecutionUsage(row) }]));
    return {
      days,
      range: range ? toExecutionUsage(range) : { executions: 0, byStatus: {}, p50DurationMs: null, p95DurationMs: null, cpuTimeMs: 0 },
      activeThreads: storage?.active_threads ?? 0,
      volumeBytes: Number(storage?.volume_bytes ?? 0),
      volumes: storage?.volumes ?? 0,
      unmeasuredVolumes: storage?.unmeasured_volumes ?? 0,
    };
  }
}
