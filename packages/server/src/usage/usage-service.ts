import { EXECUTION_RECORD_STATUSES, USAGE_DAYS, type ExecutionsByStatus, type UsageResponse } from '@airlock/contracts';
import { UsageRepository, type ExecutionUsage, type Queryable } from '@airlock/db';

export interface UsageServiceOptions {
  database: Queryable;
  /** @default the system clock */
  now?: () => Date;
}

const DAY_MS = 86_400_000;

/** The UTC calendar day of an instant, 'YYYY-MM-DD'. */
const utcDay = (instant: Date): string => instant.toISOString().slice(0, 10);

/** An organization's use of Airlock over recent UTC days, for the console's overview. */
export class UsageService {
  readonly #usage: UsageRepository;
  readonly #now: () => Date;

  constructor(options: UsageServiceOptions) {
    this.#usage = new UsageRepository(options.database);
    this.#now = options.now ?? (() => new Date());
  }

  /** The last `days` UTC days, today included: executions per day and over the range, threads and stored bytes. */
  async report(organization: { id: string; slug: string }, days: number = USAGE_DAYS.default): Promise<UsageResponse> {
    const now = this.#now();
    const lastDay = utcDay(now);
    const firstDay = utcDay(new Date(now.getTime() - (days - 1) * DAY_MS));
    const report = await this.#usage.report({ orgId: organization.id, firstDay, lastDay });
    return {
      organization: organization.slug,
      first_day: firstDay,
      last_day: lastDay,
      daily: report.days.map((day) => ({ day: day.day, ...measures(day) })),
      totals: {
        ...measures(report.range),
        active_threads: report.activeThreads,
        storage_bytes: report.volumeBytes,
        volumes: report.volumes,
        unmeasured_volumes: report.unmeasuredVolumes,
      },
    };
  }
}

function measures(usage: ExecutionUsage) {
  const byStatus = Object.fromEntries(EXECUTION_RECORD_STATUSES.map((status) => [status, usage.byStatus[status] ?? 0])) as ExecutionsByStatus;
  return {
    executions: usage.executions,
    by_status: byStatus,
    p50_duration_ms: usage.p50DurationMs,
    p95_duration_ms: usage.p95DurationMs,
    cpu_seconds: Math.round(usage.cpuTimeMs) / 1000,
  };
}
