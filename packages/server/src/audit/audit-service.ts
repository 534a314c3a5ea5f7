import type { AuditChainReport, AuditVerifyResponse } from '@airlock/contracts';
import {
  INSTANCE_CHAIN,
  type AuditCursor,
  type AuditEntry,
  type AuditFilter,
  type AuditRepository,
  type NewAuditEntry,
} from '@airlock/db';
import { decodeCursor, encodeCursor } from '../shared/cursor.js';
import type { Logger } from '../shared/logger.js';
import { ChainVerifier, RETENTION_ACTION, auditHash } from './audit-chain.js';

/** Entries read per query while verifying or exporting. */
const BATCH = 500;

/** The audit retention of each chain: an organization's setting, or the instance's for the instance chain. */
export interface AuditRetention {
  /** Days each chain's entries are kept, by chain. */
  days(): Promise<Map<string, number>>;
}

export interface RetentionRun {
  chain: string;
  droppedPartitions: string[];
}

/** Records administrative actions in the hash-chained audit log, and reads, verifies and ages it. */
export class AuditService {
  readonly #repository: AuditRepository;
  readonly #owner: AuditRepository;
  readonly #logger: Logger;

  /** `owner` drops partitions for retention (on PostgreSQL with split roles, the owner's connection). */
  constructor(options: { repository: AuditRepository; owner?: AuditRepository; logger: Logger }) {
    this.#repository = options.repository;
    this.#owner = options.owner ?? options.repository;
    this.#logger = options.logger;
  }

  record(entry: NewAuditEntry): Promise<AuditEntry> {
    return this.#repository.append(entry, auditHash);
  }

  /** One page, newest first, and the cursor of the next. */
  async page(filter: AuditFilter, options: { limit: number; cursor?: string }): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    const after = options.cursor === undefined ? undefined : parseCursor(options.cursor);
    const entries = await this.#repository.list(filter, { limit: options.limit + 1, ...(after && { after }) });
    const page = entries.slice(0, options.limit);
    const last = page.at(-1);
    return { entries: page, nextCursor: entries.length > options.limit && last ? formatCursor(last) : null };
  }

  /** Every entry the filter selects, newest first, read in batches. */
  async *export(filter: AuditFilter): AsyncGenerator<AuditEntry> {
    let after: AuditCursor | undefined;
    for (;;) {
      const entries = await this.#repository.list(filter, { limit: BATCH, ...(after && { after }) });
      yield* entries;
      if (entries.length < BATCH) return;
      after = entries.at(-1);
    }
  }

  /** Checks the given chains (every chain when absent) from their first kept entry to the recorded head. */
  async verify(chains?: string[]): Promise<AuditVerifyResponse> {
    const heads = await this.#repository.heads();
    const names = chains ?? heads.map((head) => head.chain);
    const reports: AuditChainReport[] = [];
    for (const chain of names) {
      const verifier = new ChainVerifier(chain);
      let afterSeq = 0;
      for (;;) {
        const entries = await this.#repository.chainEntries(chain, { afterSeq, limit: BATCH });
        for (const entry of entries) verifier.add(entry);
        const last = entries.at(-1);
        if (!last || entries.length < BATCH || verifier.broken) break;
        afterSeq = last.seq;
      }
      reports.push(verifier.finish(heads.find((head) => head.chain === chain) ?? null));
    }
    return { ok: reports.every((report) => report.ok), chains: reports };
  }

  /**
   * Drops the months of every chain older than its retention, each run recorded in its chain as the anchor that
   * keeps the chain verifiable.
   */
  async applyRetention(retention: AuditRetention, now = new Date()): Promise<RetentionRun[]> {
    const days = await retention.days();
    const runs: RetentionRun[] = [];
    for (const head of await this.#repository.heads()) {
      const keepDays = days.get(head.chain);
      if (keepDays === undefined) continue;
      const cutoff = new Date(now.getTime() - keepDays * 86_400_000);
      const entry = await this.#owner.dropMonthsBefore(head.chain, cutoff, {
        hash: auditHash,
        anchor: (dropped) => ({
          orgId: head.chain === INSTANCE_CHAIN ? null : head.chain,
          actor: 'system',
          authMethod: 'system',
          action: RETENTION_ACTION,
          targetType: 'audit_log',
          targetId: head.chain,
          outcome: 'success',
          reason: `entries older than ${keepDays} days`,
          changes: { anchor: { lastSeq: dropped.lastSeq, lastHash: dropped.lastHash }, dropped_partitions: dropped.partitions, cutoff: cutoff.toISOString() },
          ip: null,
          userAgent: null,
          requestId: null,
        }),
      });
      if (entry) {
        const droppedPartitions = (entry.changes?.dropped_partitions as string[] | undefined) ?? [];
        this.#logger.info('audit retention', { chain: head.chain, droppedPartitions });
        runs.push({ chain: head.chain, droppedPartitions });
      }
    }
    return runs;
  }
}

function formatCursor(entry: AuditEntry): string {
  return encodeCursor([entry.occurredAt.toISOString(), entry.chain, entry.seq]);
}

function parseCursor(cursor: string): AuditCursor {
  const [occurredAt, chain, seq] = decodeCursor(cursor, ['date', 'string', 'number']);
  return { occurredAt, chain, seq };
}
