import type { AuditRetention, AuditService } from '../audit/audit-service.js';
import type { Logger } from '../shared/logger.js';
import type { ThreadService, ThreadSweepResult } from '../threads/thread-service.js';
import type { ExecutionRetentionSweep } from './execution-retention.js';

/** What one sweep removed. */
export interface SweepResult extends ThreadSweepResult {
  deletedExecutions: number;
  /** Console sessions that ended more than ENDED_SESSION_DAYS ago. */
  deletedSessions: number;
  /** Month partitions of the audit log dropped (checked at most once an hour). */
  droppedAuditPartitions: number;
}

/** Ended sessions are kept this long (the audit log keeps every sign-in for its own retention). */
const ENDED_SESSION_DAYS = 30;

/** The audit log is aged at most this often: its months end far less often than sweeps run. */
const AUDIT_RETENTION_INTERVAL_MS = 3_600_000;

/**
 * Runs retention every `intervalSeconds`, and on demand: expired threads and unused blobs, executions past their
 * sandbox config's retention, sessions long ended, and audit months past their organization's. Every node runs it; the work is shared safely.
 */
export class RetentionSweeper {
  readonly #threads: ThreadService;
  readonly #executions: ExecutionRetentionSweep;
  readonly #sessions: { deleteEnded(days: number): Promise<number> };
  readonly #audit: { service: AuditService; retention: AuditRetention };
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #auditAgedAt = 0;

  constructor(options: {
    threads: ThreadService;
    executions: ExecutionRetentionSweep;
    sessions: { deleteEnded(days: number): Promise<number> };
    audit: { service: AuditService; retention: AuditRetention };
    intervalSeconds: number;
    logger: Logger;
  }) {
    this.#threads = options.threads;
    this.#executions = options.executions;
    this.#sessions = options.sessions;
    this.#audit = options.audit;
    this.#logger = options.logger;
    this.#timer = setInterval(
      () => void this.sweep().catch((error: unknown) => this.#logger.warn('retention sweep failed', { error: String(error) })),
      options.intervalSeconds * 1000,
    );
    this.#timer.unref();
  }

  /** Sweeps now; `force` ages the audit log even if it was aged within the hour. */
  async sweep(options: { force?: boolean } = {}): Promise<SweepResult> {
    const threads = await this.#threads.sweep();
    const deletedExecutions = await this.#executions.sweep();
    const deletedSessions = await this.#sessions.deleteEnded(ENDED_SESSION_DAYS);
    let droppedAuditPartitions = 0;
    if (options.force === true || Date.now() - this.#auditAgedAt >= AUDIT_RETENTION_INTERVAL_MS) {
      this.#auditAgedAt = Date.now();
      const runs = await this.#audit.service.applyRetention(this.#audit.retention);
      droppedAuditPartitions = runs.reduce((sum, run) => sum + run.droppedPartitions.length, 0);
    }
    const result = { ...threads, deletedExecutions, deletedSessions, droppedAuditPartitions };
    if (Object.values(result).some((count) => count > 0)) this.#logger.info('retention sweep', { ...result });
    return result;
  }

  /** Stops the timer and waits for the thread work in flight. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#threads.idle();
  }
}
