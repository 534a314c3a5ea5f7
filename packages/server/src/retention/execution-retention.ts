import type { ExecutionRetention, ExecutionRepository, NewAuditEntry } from '@airlock/db';

/** How long each retention keeps a finished execution. */
const RETENTION_MS: Record<Exclude<ExecutionRetention, 'forever'>, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};

/** Executions deleted per statement; a sweep deletes at most BATCH * MAX_BATCHES per retention. */
const BATCH = 500;
const MAX_BATCHES = 20;

/**
 * Deletes executions (code, output, metadata, webhook attempts) past their sandbox config's retention, as the config
 * says at the time of the sweep, in bounded batches; each organization's deletions are one audit entry per sweep.
 */
export class ExecutionRetentionSweep {
  readonly #executions: ExecutionRepository;
  readonly #audit: { record(entry: NewAuditEntry): Promise<unknown> };

  constructor(options: { executions: ExecutionRepository; audit: { record(entry: NewAuditEntry): Promise<unknown> } }) {
    this.#executions = options.executions;
    this.#audit = options.audit;
  }

  /** Deletes what has expired by `now`; returns how many executions went. */
  async sweep(now = new Date()): Promise<number> {
    const deleted = new Map<string, Map<string, number>>();
    for (const [retention, keepMs] of Object.entries(RETENTION_MS) as Array<[keyof typeof RETENTION_MS, number]>) {
      const cutoff = new Date(now.getTime() - keepMs);
      for (let batch = 0; batch < MAX_BATCHES; batch += 1) {
        const gone = await this.#executions.deleteExpired({ retention, cutoff, limit: BATCH });
        for (const { orgId } of gone) {
          const counts = deleted.get(orgId) ?? new Map<string, number>();
          counts.set(retention, (counts.get(retention) ?? 0) + 1);
          deleted.set(orgId, counts);
        }
        if (gone.length < BATCH) break;
      }
    }
    let total = 0;
    for (const [orgId, counts] of deleted) {
      const byRetention = Object.fromEntries(counts);
      total += [...counts.values()].reduce((sum, count) => sum + count, 0);
      await this.#audit.record({
        orgId,
        actor: 'system',
        authMethod: 'system',
        action: 'execution.retention',
        targetType: 'execution',
        targetId: null,
        outcome: 'success',
        reason: null,
        changes: { deleted: byRetention },
        ip: null,
        userAgent: null,
        requestId: null,
      });
    }
    return total;
  }
}
