import { createHash } from 'node:crypto';
import type { AuditChainReport, AuditEntry as AuditEntryBody } from '@airlock/contracts';
import { GENESIS_HASH, type AuditEntry } from '@airlock/db';

/** The action of a retention run's entry, whose `changes.anchor` names the newest entry it dropped. */
export const RETENTION_ACTION = 'audit.retention';

/** An entry's wire form (the JSON Lines export's lines). */
export function auditEntryBody(entry: AuditEntry): AuditEntryBody {
  return {
    chain: entry.chain,
    seq: entry.seq,
    occurred_at: entry.occurredAt.toISOString(),
    organization_id: entry.orgId,
    actor: entry.actor,
    auth_method: entry.authMethod,
    action: entry.action,
    target_type: entry.targetType,
    target_id: entry.targetId,
    outcome: entry.outcome,
    reason: entry.reason,
    changes: entry.changes,
    ip: entry.ip,
    user_agent: entry.userAgent,
    request_id: entry.requestId,
    previous_hash: entry.previousHash,
    hash: entry.hash,
  };
}

/** JSON with object keys sorted at every level and no spaces. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 (hex) of an entry's canonical wire form without its `hash`: what its `hash` must be. */
export function auditHash(entry: Omit<AuditEntry, 'hash'>): string {
  const { hash: _hash, ...body } = auditEntryBody({ ...entry, hash: '' });
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** What a retention run's entry says about the newest entry it dropped. */
interface Anchor {
  lastSeq: number;
  lastHash: string;
}

function anchorOf(entry: AuditEntry): Anchor | null {
  if (entry.action !== RETENTION_ACTION || entry.outcome !== 'success') return null;
  const anchor = entry.changes?.anchor as Partial<Anchor> | undefined;
  return typeof anchor?.lastSeq === 'number' && typeof anchor.lastHash === 'string' ? { lastSeq: anchor.lastSeq, lastHash: anchor.lastHash } : null;
}

/**
 * Checks one chain fed in order: each entry's hash matches its content, positions follow without gaps, each
 * previous_hash is the hash before it. The first entry kept starts at 1 from the genesis hash, or right after the
 * newest entry a retention run dropped (its anchor, itself a checked entry of the chain). The head recorded at the
 * last append must be the last entry, so rows removed from the end are found too.
 */
export class ChainVerifier {
  readonly #chain: string;
  #entries = 0;
  #first: AuditEntry | null = null;
  #last: AuditEntry | null = null;
  #broken: { seq: number; reason: string } | null = null;
  readonly #anchors: Anchor[] = [];

  constructor(chain: string) {
    this.#chain = chain;
  }

  get broken(): boolean {
    return this.#broken !== null;
  }

  add(entry: AuditEntry): void {
    if (this.#broken) return;
    this.#entries += 1;
    const anchor = anchorOf(entry);
    if (anchor) this.#anchors.push(anchor);
    const { hash, ...unhashed } = entry;
    if (auditHash(unhashed) !== hash) return this.#break(entry.seq, 'its content does not match its hash (the entry was changed)');
    const last = this.#last;
    this.#last = entry;
    if (last === null) {
      this.#first = entry;
      if (entry.seq === 1 && entry.previousHash !== GENESIS_HASH) this.#break(entry.seq, 'the first entry does not start from the genesis hash');
      return;
    }
    if (entry.seq !== last.seq + 1) return this.#break(last.seq + 1, `the entry is missing (the next one kept is ${entry.seq})`);
    if (entry.previousHash !== last.hash) this.#break(entry.seq, 'its previous_hash is not the hash of the entry before it');
  }

  /** The report, once every entry was added; `head` is the chain's recorded newest entry. */
  finish(head: { lastSeq: number; lastHash: string } | null): AuditChainReport {
    const first = this.#first;
    if (!this.#broken && first && first.seq !== 1) {
      const anchored = this.#anchors.some((anchor) => anchor.lastSeq === first.seq - 1 && anchor.lastHash === first.previousHash);
      if (!anchored) this.#break(first.seq, `entries before ${first.seq} are gone and no retention run accounts for them`);
    }
    const last = this.#last;
    if (!this.#broken && head && head.lastSeq > 0 && (last === null || head.lastSeq !== last.seq || head.lastHash !== last.hash)) {
      this.#break(last ? last.seq + 1 : 1, `the chain's recorded newest entry is ${head.lastSeq}, which is not the last entry found (entries were removed from the end)`);
    }
    return {
      chain: this.#chain,
      entries: this.#entries,
      first_seq: first?.seq ?? null,
      last_seq: last?.seq ?? null,
      head_hash: last?.hash ?? null,
      ok: this.#broken === null,
      broken: this.#broken,
    };
  }

  #break(seq: number, reason: string): void {
    this.#broken ??= { seq, reason };
  }
}
