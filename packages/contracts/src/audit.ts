import { z } from 'zod';
import { OrganizationSlug } from './admin.js';
import { Text } from './text.js';

/** The audit log's wire form (`/admin/v1/audit`). */

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export const AUDIT_AUTH_METHODS = ['session', 'admin_token', 'api_key', 'system', 'none'] as const;
/** The chain of entries that belong to no organization. */
export const INSTANCE_AUDIT_CHAIN = 'instance';

/**
 * One entry. `hash` is the SHA-256 (hex) of the entry's canonical form: this object without `hash`, keys sorted at
 * every level, as compact JSON; `previous_hash` is the `hash` of the entry before it in its chain (64 zeros for the
 * first), so a JSON Lines export can be checked without the server.
 */
export const AuditEntry = z
  .object({
    chain: z.string().describe(`the organization's id, or "${INSTANCE_AUDIT_CHAIN}"`),
    seq: z.number().int().describe('position in the chain, from 1 without gaps'),
    occurred_at: z.iso.datetime(),
    organization_id: z.string().nullable(),
    actor: z.string().describe("the user's email, the admin token's name, or \"system\""),
    auth_method: z.enum(AUDIT_AUTH_METHODS),
    action: z.string().describe('what was done, as `target.verb`: `sandbox.update`, `api_key.revoke`, `auth.sign_in`'),
    target_type: z.string(),
    target_id: z.string().nullable(),
    outcome: z.enum(AUDIT_OUTCOMES),
    reason: z.string().nullable().describe('why it failed or was denied'),
    changes: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe('per changed field `{before, after}` (secret fields as "changed"); other details of the action'),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    request_id: z.string().nullable(),
    previous_hash: z.string(),
    hash: z.string(),
  })
  .meta({ id: 'AuditEntry' });
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AUDIT_PAGE_LIMIT = { default: 100, max: 1000 } as const;

export const AuditQuery = z.strictObject({
  organization: OrganizationSlug.optional().describe(
    "the organization's entries, by slug, or by id (`org_...`, also for a deleted or erased one); the default organization when absent",
  ),
  instance: z
    .enum(['true', 'false'])
    .optional()
    .describe('`true`: the entries that belong to no organization (sign-ins, admin tokens, images, refused requests)'),
  from: z.iso.datetime().optional().describe('entries at or after this time'),
  to: z.iso.datetime().optional().describe('entries before this time'),
  actor: Text.optional(),
  action: Text.optional().describe('an action (`api_key.revoke`) or a prefix of actions (`api_key`)'),
  target_type: Text.optional(),
  target_id: Text.optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(AUDIT_PAGE_LIMIT.max))
    .optional()
    .describe(`entries per page, at most ${AUDIT_PAGE_LIMIT.max}; default ${AUDIT_PAGE_LIMIT.default} (ignored by the JSON Lines export)`),
  cursor: Text.optional().describe('`next_cursor` of the page before'),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditPage = z.object({
  entries: z.array(AuditEntry).describe('newest first'),
  next_cursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last'),
});

export const AuditVerifyRequest = z.strictObject({
  organization: OrganizationSlug.optional().describe('verify only this organization\'s chain; every chain when absent'),
});
export type AuditVerifyRequest = z.infer<typeof AuditVerifyRequest>;

export const AuditChainReport = z.object({
  chain: z.string(),
  entries: z.number().int().describe('entries checked'),
  first_seq: z.number().int().nullable(),
  last_seq: z.number().int().nullable(),
  head_hash: z.string().nullable().describe('the hash of the newest entry: record it elsewhere to detect a rewrite of the whole tail'),
  ok: z.boolean(),
  broken: z
    .object({ seq: z.number().int(), reason: z.string() })
    .nullable()
    .describe('the first broken link: the position and what does not hold'),
});
export type AuditChainReport = z.infer<typeof AuditChainReport>;

export const AuditVerifyResponse = z.object({
  ok: z.boolean(),
  chains: z.array(AuditChainReport),
});
export type AuditVerifyResponse = z.infer<typeof AuditVerifyResponse>;
