import { AUDIT_PAGE_LIMIT, AuditPage, AuditQuery, AuditVerifyRequest, AuditVerifyResponse, INSTANCE_AUDIT_CHAIN } from '@airlock/contracts';
import type { AuditFilter } from '@airlock/db';
import { jsonLinesResponse, mapped } from '../http/json-lines.js';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { AuditService } from './audit-service.js';
import { auditEntryBody } from './audit-chain.js';

const NDJSON = 'application/x-ndjson';

/** Reading, exporting and verifying the audit log. */
export function auditOperations(
  audit: AuditService,
  organizations: { organization(slug?: string): Promise<{ id: string }> },
  declare: DeclareAdminOperation,
): Operation[] {
  // An organization id (`org_...`) names the chain of an organization that may be deleted or erased since.
  const chainOf = async (query: { organization?: string | undefined; instance?: 'true' | 'false' | undefined }): Promise<string> => {
    if (query.instance === 'true') return INSTANCE_AUDIT_CHAIN;
    if (query.organization?.startsWith('org_')) return query.organization;
    return (await organizations.organization(query.organization)).id;
  };
  return [
    declare({
      method: 'get',
      path: '/admin/v1/audit',
      operationId: 'adminListAudit',
      audit: { action: 'audit.read', target: 'audit_log' },
      summary: "Read an organization's audit log",
      description:
        'Newest first, a page at a time (`next_cursor`). With `Accept: application/x-ndjson` the answer is every ' +
        'matching entry as JSON Lines (an export, itself recorded in the log); each line can be checked offline as ' +
        'AuditEntry describes.',
      query: AuditQuery,
      response: AuditPage,
      codes: [],
      handle: async (context, { query, audit: note }) => {
        const filter: AuditFilter = {
          chain: await chainOf(query),
          ...(query.from !== undefined && { from: new Date(query.from) }),
          ...(query.to !== undefined && { to: new Date(query.to) }),
          ...(query.actor !== undefined && { actor: query.actor }),
          ...(query.action !== undefined && { action: query.action }),
          ...(query.target_type !== undefined && { targetType: query.target_type }),
          ...(query.target_id !== undefined && { targetId: query.target_id }),
          ...(query.outcome !== undefined && { outcome: query.outcome }),
        };
        if ((context.req.header('accept') ?? '').includes(NDJSON)) {
          note.record = true;
          note.describe({ extra: { export: { ...query, cursor: undefined, limit: undefined } } });
          return jsonLinesResponse(mapped(audit.export(filter), auditEntryBody));
        }
        const page = await audit.page(filter, { limit: query.limit ?? AUDIT_PAGE_LIMIT.default, ...(query.cursor !== undefined && { cursor: query.cursor }) });
        return context.json({ entries: page.entries.map(auditEntryBody), next_cursor: page.nextCursor });
      },
    }),
    declare({
      method: 'post',
      path: '/admin/v1/audit/verify',
      operationId: 'adminVerifyAudit',
      audit: { action: 'audit.verify', target: 'audit_log' },
      role: 'viewer',
      summary: 'Verify the audit log hash chains',
      description:
        "Recomputes every entry's hash and checks each link, from the first entry kept (or the retention run that " +
        'accounts for the ones dropped) to the newest recorded; reports the first broken link of each chain.',
      body: AuditVerifyRequest,
      response: AuditVerifyResponse,
      codes: [],
      handle: async (context, { body, audit: note }) => {
        const chains = body.organization === undefined ? undefined : [await chainOf({ organization: body.organization })];
        const report = await audit.verify(chains);
        note.describe({
          extra: { ok: report.ok, chains: report.chains.map((chain) => ({ chain: chain.chain, entries: chain.entries, broken: chain.broken })) },
        });
        return context.json(report);
      },
    }),
  ];
}
