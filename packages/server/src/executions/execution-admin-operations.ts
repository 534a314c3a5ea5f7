import { AdminExecutionDetail, AdminExecutionPage, AdminExecutionPath, AdminExecutionQuery, OrganizationQuery } from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { ExecutionBrowser } from './execution-browser.js';

/** An organization's executions for its operators: pages with filters, and one execution whole. */
export function executionAdminOperations(
  browser: ExecutionBrowser,
  organizations: { organization(slug?: string): Promise<{ id: string }> },
  declare: DeclareAdminOperation,
): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/executions',
      operationId: 'adminListExecutions',
      audit: { action: 'execution.list', target: 'execution' },
      summary: "List an organization's executions",
      description: 'Newest first, with their code and output, a page at a time (`next_cursor`).',
      query: AdminExecutionQuery,
      response: AdminExecutionPage,
      codes: [],
      handle: async (context, { query }) => context.json(await browser.page((await organizations.organization(query.organization)).id, query)),
    }),
    declare({
      method: 'get',
      path: '/admin/v1/executions/{trace_id}',
      operationId: 'adminGetExecution',
      audit: { action: 'execution.read', target: 'execution' },
      summary: 'Read an execution: code, output, durations, resource use, network receipt, webhook attempts',
      query: OrganizationQuery,
      params: AdminExecutionPath,
      response: AdminExecutionDetail,
      codes: [],
      handle: async (context, { query, params }) => context.json(await browser.get((await organizations.organization(query.organization)).id, params.trace_id)),
    }),
  ];
}
