import { UsageQuery, UsageResponse } from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { UsageService } from './usage-service.js';

/** The organization's use over recent days. */
export function usageOperations(
  usage: UsageService,
  organizations: { organization(slug?: string): Promise<{ id: string; slug: string }> },
  declare: DeclareAdminOperation,
): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/usage',
      operationId: 'adminGetUsage',
      audit: { action: 'usage.read', target: 'organization' },
      summary: "An organization's use over recent days",
      description:
        'Per UTC day, today included: executions by status, p50 and p95 duration, CPU seconds; over the range: the same, active threads and the bytes its volumes hold.',
      query: UsageQuery,
      response: UsageResponse,
      codes: [],
      handle: async (context, { query }) => context.json(await usage.report(await organizations.organization(query.organization), query.days)),
    }),
  ];
}
