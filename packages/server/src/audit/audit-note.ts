import { isDeepStrictEqual } from 'node:util';
import { CONNECTION_SECRET_FIELDS, CONNECTOR_SECRET_FIELDS } from '@airlock/contracts';

/** Fields whose values never enter the audit log: a change shows as "changed". */
const SECRET_FIELDS: ReadonlySet<string> = new Set([
  'key',
  'token',
  'secret',
  'secrets',
  'env_vars',
  ...Object.values(CONNECTION_SECRET_FIELDS).flat(),
  ...Object.values(CONNECTOR_SECRET_FIELDS).flat(),
]);

/** Bookkeeping the server keeps up itself: not a change anyone made. */
const BOOKKEEPING_FIELDS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'last_used_at', 'usage_measured_at']);

/** What a changed field records: its values before and after, or only that it changed when it is secret. */
export type FieldChange = { before?: unknown; after?: unknown } | 'changed';

/**
 * The fields that differ between `before` and `after` (either absent for a creation or a deletion), secret ones as
 * "changed". Fields absent from one side and null on the other do not count as changes.
 */
export function auditChanges(before: object | undefined, after: object | undefined): Record<string, FieldChange> {
  const was = (before ?? {}) as Record<string, unknown>;
  const is = (after ?? {}) as Record<string, unknown>;
  const changes: Record<string, FieldChange> = {};
  for (const field of new Set([...Object.keys(was), ...Object.keys(is)])) {
    const previous = was[field] ?? null;
    const next = is[field] ?? null;
    if (BOOKKEEPING_FIELDS.has(field) || isDeepStrictEqual(previous, next)) continue;
    if (SECRET_FIELDS.has(field)) {
      changes[field] = 'changed';
      continue;
    }
    changes[field] = {
      ...(before !== undefined && { before: previous }),
      ...(after !== undefined && { after: next }),
    };
  }
  return changes;
}

/**
 * What a handler tells the audit trail about its action, beyond what the route knows: the organization acted on (when
 * the request does not name it), the target's id, and the change.
 */
export class AuditNote {
  organizationId: string | undefined;
  organizationSlug: string | undefined;
  targetId: string | undefined;
  changes: Record<string, unknown> | undefined;
  /** Set when the caller's role does not allow the action. */
  denied = false;
  /** Set by a read that must be recorded (an export). */
  record = false;
  /** The request's validated body: what a change records when the handler describes nothing. */
  body: object | undefined;

  /** Records the target and, given its state before and/or after, the fields that changed. */
  describe(details: { organizationId?: string; targetId?: string; before?: object; after?: object; extra?: Record<string, unknown> }): void {
    if (details.organizationId !== undefined) this.organizationId = details.organizationId;
    if (details.targetId !== undefined) this.targetId = details.targetId;
    if (details.before !== undefined || details.after !== undefined) {
      this.changes = { ...this.changes, ...auditChanges(details.before, details.after) };
    }
    if (details.extra !== undefined) this.changes = { ...this.changes, ...details.extra };
  }
}
