import type { Database, Queryable } from './database.js';
import { withoutNul } from './sql-text.js';

export type AuditAuthMethod = 'session' | 'admin_token' | 'api_key' | 'system' | 'none';
export type AuditOutcome = 'success' | 'failure' | 'denied';

/** The chain of rows that belong to no organization (sign-ins, admin tokens, images, refused requests). */
export const INSTANCE_CHAIN = 'instance';

/** The previous hash of a chain's first row. */
export const GENESIS_HASH = '0'.repeat(64);

/** What an action records; the repository places it in its chain. */
export interface NewAuditEntry {
  /** The organization it belongs to; null puts it in the instance chain. */
  orgId: string | null;
  actor: string;
  authMethod: AuditAuthMethod;
  action: string;
  targetType: string;
  targetId: string | null;
  outcome: AuditOutcome;
  reason: string | null;
  changes: Record<string, unknown> | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** A row of the audit log. */
export interface AuditEntry extends NewAuditEntry {
  chain: string;
  seq: number;
  occurredAt: Date;
  previousHash: string;
  hash: string;
}

/** The hash of an entry's canonical content (the server's audit-chain.ts); the repository stores what it returns. */
export type AuditHasher = (entry: Omit<AuditEntry, 'hash'>) => string;

export interface AuditFilter {
  chain?: string;
  from?: Date;
  to?: Date;
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  outcome?: AuditOutcome;
}

/** Where a page of newest-first entries continues: after this entry. */
export interface AuditCursor {
  occurredAt: Date;
  chain: string;
  seq: number;
}

/** A chain's head as recorded when its newest row was appended. */
export interface AuditChainHead {
  chain: string;
  lastSeq: number;
  lastHash: string;
  lastOccurredAt: Date;
}

/** A month partition of one chain. */
export interface AuditPartition {
  table: string;
  monthStart: Date;
}

interface AuditRow {
  chain: string;
  seq: number;
  occurred_at: Date;
  org_id: string | null;
  actor: string;
  auth_method: AuditAuthMethod;
  action: string;
  target_type: string;
  target_id: string | null;
  outcome: AuditOutcome;
  reason: string | null;
  changes: Record<string, unknown> | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  previous_hash: string;
  hash: string;
}

const COLUMNS = [
  'chain',
  'seq',
  'occurred_at',
  'org_id',
  'actor',
  'auth_method',
  'action',
  'target_type',
  'target_id',
  'outcome',
  'reason',
  'changes',
  'ip',
  'user_agent',
  'request_id',
  'previous_hash',
  'hash',
] as const;
const SELECT_LIST = COLUMNS.join(', ');

function toEntry(row: AuditRow): AuditEntry {
  return {
    chain: row.chain,
    seq: row.seq,
    occurredAt: row.occurred_at,
    orgId: row.org_id,
    actor: row.actor,
    authMethod: row.auth_method,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    outcome: row.outcome,
    reason: row.reason,
    changes: row.changes,
    ip: row.ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    previousHash: row.previous_hash,
    hash: row.hash,
  };
}

/** A JSON value with U+0000 replaced in every string and key, as jsonb stores it. */
function jsonWithoutNul(value: unknown): unknown {
  if (typeof value === 'string') return withoutNul(value);
  if (Array.isArray(value)) return value.map(jsonWithoutNul);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [withoutNul(key), jsonWithoutNul(item)]));
}

/** Text fields as stored: PostgreSQL text holds no U+0000, so the hash covers what the row will read back as. */
function storable(entry: NewAuditEntry): NewAuditEntry {
  const text = (value: string | null): string | null => (value === null ? null : withoutNul(value));
  return {
    ...entry,
    actor: withoutNul(entry.actor),
    action: withoutNul(entry.action),
    targetType: withoutNul(entry.targetType),
    targetId: text(entry.targetId),
    reason: text(entry.reason),
    // As jsonb gives it back: undefined members dropped, U+0000 replaced.
    changes: entry.changes === null ? null : (JSON.parse(JSON.stringify(jsonWithoutNul(entry.changes))) as Record<string, unknown>),
    ip: text(entry.ip),
    userAgent: text(entry.userAgent),
    requestId: text(entry.requestId),
  };
}

/**
 * The audit log: appends hash-chained rows (one chain at a time per chain, across nodes), pages through them, and
 * drops whole months for retention. The database refuses UPDATE, DELETE and TRUNCATE of its rows (0015_audit_log.sql).
 */
export class AuditRepository {
  readonly #database: Database;
  readonly #now: () => Date;

  /** `now` gives the time of new rows (the system clock by default). */
  constructor(database: Database, options: { now?: () => Date } = {}) {
    this.#database = database;
    this.#now = options.now ?? (() => new Date());
  }

  /** Appends `entry` to its chain, its time never before the chain's newest row, and returns the stored row. */
  append(entry: NewAuditEntry, hash: AuditHasher): Promise<AuditEntry> {
    return this.#database.transaction((tx) => appendEntry(tx, { entry, hash, now: this.#now() }));
  }

  /** Entries newest first, `limit` of them after `cursor`. */
  async list(filter: AuditFilter, options: { limit: number; after?: AuditCursor }): Promise<AuditEntry[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const where = (sql: (placeholder: string) => string, value: unknown): void => {
      params.push(value);
      conditions.push(sql(`$${params.length}`));
    };
    if (filter.chain !== undefined) where((p) => `chain = ${p}`, filter.chain);
    if (filter.from !== undefined) where((p) => `occurred_at >= ${p}`, filter.from);
    if (filter.to !== undefined) where((p) => `occurred_at < ${p}`, filter.to);
    if (filter.actor !== undefined) where((p) => `actor = ${p}`, filter.actor);
    if (filter.action !== undefined) where((p) => `(action = ${p} OR action LIKE ${p} || '.%')`, filter.action);
    if (filter.targetType !== undefined) where((p) => `target_type = ${p}`, filter.targetType);
    if (filter.targetId !== undefined) where((p) => `target_id = ${p}`, filter.targetId);
    if (filter.outcome !== undefined) where((p) => `outcome = ${p}`, filter.outcome);
    if (options.after !== undefined) {
      const { occurredAt, chain, seq } = options.after;
      params.push(occurredAt, chain, seq);
      conditions.push(`(occurred_at, chain, seq) < ($${params.length - 2}, $${params.length - 1}, $${params.length})`);
    }
    params.push(options.limit);
    const rows = await this.#database.query<AuditRow>(
      `SELECT ${SELECT_LIST} FROM audit_log ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
       ORDER BY occurred_at DESC, chain DESC, seq DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toEntry);
  }

  /** A chain's entries in order, `limit` of them after position `afterSeq`. */
  async chainEntries(chain: string, options: { afterSeq: number; limit: number }): Promise<AuditEntry[]> {
    const rows = await this.#database.query<AuditRow>(
      `SELECT ${SELECT_LIST} FROM audit_log WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [chain, options.afterSeq, options.limit],
    );
    return rows.map(toEntry);
  }

  async heads(): Promise<AuditChainHead[]> {
    const rows = await this.#database.query<{ chain: string; last_seq: number; last_hash: string; last_occurred_at: Date }>(
      'SELECT chain, last_seq, last_hash, last_occurred_at FROM audit_chains ORDER BY chain',
    );
    return rows.map((row) => ({ chain: row.chain, lastSeq: row.last_seq, lastHash: row.last_hash, lastOccurredAt: row.last_occurred_at }));
  }

  /** The chain's month partitions, oldest first. */
  partitions(chain: string): Promise<AuditPartition[]> {
    return chainPartitions(this.#database, chain);
  }

  /**
   * Drops the chain's months that end at or before `cutoff`, never the month of its newest row, in one transaction
   * with the row `anchor` makes from the newest dropped row (the retention run's own entry, which keeps the chain
   * verifiable from its first kept row). Nothing happens when no month is that old. Needs a role that owns the log
   * (on PostgreSQL, the owner role).
   */
  async dropMonthsBefore(
    chain: string,
    cutoff: Date,
    options: { anchor: (dropped: { partitions: string[]; lastSeq: number; lastHash: string }) => NewAuditEntry; hash: AuditHasher },
  ): Promise<AuditEntry | null> {
    return this.#database.transaction(async (tx) => {
      const head = await lockChain(tx, chain);
      const expired = (await chainPartitions(tx, chain)).filter(
        (partition) => nextMonth(partition.monthStart) <= cutoff && nextMonth(partition.monthStart) <= head.lastOccurredAt,
      );
      if (expired.length === 0) return null;
      const tables = expired.map((partition) => partition.table);
      const [last] = await tx.query<{ seq: number; hash: string }>(
        `SELECT seq, hash FROM (${tables.map((table) => `SELECT seq, hash FROM ${quoteIdentifier(table)}`).join(' UNION ALL ')}) dropped
         ORDER BY seq DESC LIMIT 1`,
      );
      const anchor = last ? options.anchor({ partitions: tables, lastSeq: last.seq, lastHash: last.hash }) : null;
      const entry = anchor ? await appendEntry(tx, { entry: anchor, hash: options.hash, now: this.#now() }) : null;
      for (const table of tables) await tx.query(`DROP TABLE ${quoteIdentifier(table)}`);
      return entry;
    });
  }
}

function nextMonth(monthStart: Date): Date {
  return new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 1));
}

function quoteIdentifier(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unexpected audit partition name ${name}`);
  return `"${name}"`;
}

/** The chain this entry belongs to. */
export function auditChainOf(orgId: string | null): string {
  return orgId ?? INSTANCE_CHAIN;
}

/** Creates the chain's head when missing and locks it until the transaction ends, in one statement. */
async function lockChain(tx: Queryable, chain: string): Promise<AuditChainHead> {
  const [row] = await tx.query<{ last_seq: number; last_hash: string; last_occurred_at: Date }>(
    `INSERT INTO audit_chains (chain, last_seq, last_hash, last_occurred_at) VALUES ($1, 0, $2, 'epoch')
     ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain
     RETURNING last_seq, last_hash, last_occurred_at`,
    [chain, GENESIS_HASH],
  );
  if (!row) throw new Error(`audit chain ${chain} has no head`);
  return { chain, lastSeq: row.last_seq, lastHash: row.last_hash, lastOccurredAt: row.last_occurred_at };
}

function sameMonth(a: Date, b: Date): boolean {
  return a.getUTCFullYear() === b.getUTCFullYear() && a.getUTCMonth() === b.getUTCMonth();
}

async function appendEntry(tx: Queryable, options: { entry: NewAuditEntry; hash: AuditHasher; now: Date }): Promise<AuditEntry> {
  const { hash, now } = options;
  const entry = storable(options.entry);
  const chain = auditChainOf(entry.orgId);
  const head = await lockChain(tx, chain);
  const unhashed: Omit<AuditEntry, 'hash'> = {
    ...entry,
    chain,
    seq: head.lastSeq + 1,
    occurredAt: now < head.lastOccurredAt ? head.lastOccurredAt : now,
    previousHash: head.lastHash,
  };
  const stored: AuditEntry = { ...unhashed, hash: hash(unhashed) };
  // The month of the chain's newest entry has its partition (retention never drops it); a new month may not.
  if (head.lastSeq === 0 || !sameMonth(head.lastOccurredAt, stored.occurredAt)) {
    await tx.query('SELECT audit_log_partition($1, $2)', [chain, stored.occurredAt]);
  }
  // The entry and the chain's new head in one statement.
  await tx.query(
    `WITH appended AS (
       INSERT INTO audit_log (${SELECT_LIST}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
       RETURNING chain, seq, hash, occurred_at
     )
     UPDATE audit_chains SET last_seq = appended.seq, last_hash = appended.hash, last_occurred_at = appended.occurred_at
     FROM appended WHERE audit_chains.chain = appended.chain`,
    [
      stored.chain,
      stored.seq,
      stored.occurredAt,
      stored.orgId,
      stored.actor,
      stored.authMethod,
      stored.action,
      stored.targetType,
      stored.targetId,
      stored.outcome,
      stored.reason,
      stored.changes === null ? null : JSON.stringify(stored.changes),
      stored.ip,
      stored.userAgent,
      stored.requestId,
      stored.previousHash,
      stored.hash,
    ],
  );
  return stored;
}

async function chainPartitions(database: Queryable, chain: string): Promise<AuditPartition[]> {
  const rows = await database.query<{ table_name: string }>(
    `SELECT c.relname AS table_name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
     WHERE p.relname = $1 ORDER BY c.relname`,
    [`audit_log_${chain}`],
  );
  return rows.flatMap((row) => {
    const month = /_(\d{4})(\d{2})$/.exec(row.table_name);
    if (!month) return [];
    return [{ table: row.table_name, monthStart: new Date(Date.UTC(Number(month[1]), Number(month[2]) - 1, 1)) }];
  });
}
