import {
  AdminExecutionDetail,
  AdminExecutionOutputQuery,
  AdminExecutionPage,
  AdminExecutionPath,
  AdminExecutionQuery,
  ErrorCode,
  ExecutionCancelResponse,
  OrganizationQuery,
} from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import { webhookAdminOperations } from '../webhooks/webhook-admin-operations.js';
import type { ExecutionBrowser } from './execution-browser.js';

/**
 * An organization's executions for its operators: pages with filters, one execution whole, its output live, cancel;
 * and the organization's webhook deliveries.
 */
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
    declare({
      method: 'get',
      path: '/admin/v1/executions/{trace_id}/output',
      operationId: 'adminGetExecutionOutput',
      audit: { action: 'execution.output.read', target: 'execution' },
      summary: "Replay an execution's events, live while it runs",
      description:
        'The NDJSON events (`application/x-ndjson`, one `ExecutionEvent` per line) of `GET /v1/executions/{trace_id}/output`: ' +
        'from the start (or after `seq` = `after_seq`), then live ones while the execution runs; the stream ends with ' +
        'the `result` event.',
      query: AdminExecutionOutputQuery,
      params: AdminExecutionPath,
      codes: [],
      handle: async (_context, { query, params }) =>
        browser.output((await organizations.organization(query.organization)).id, params.trace_id, query.after_seq ?? -1),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/executions/{trace_id}/cancel',
      operationId: 'adminCancelExecution',
      audit: { action: 'execution.cancel', target: 'execution' },
      role: 'admin',
      summary: 'Kill a running execution',
      description:
        'As `POST /v1/executions/{trace_id}/cancel`: answers once the execution has ended (`cancelled`), or `cancelling` ' +
        'if stopping takes more than 5 seconds; a finished execution answers the status it finished with. 409 ' +
        '`conflict` for one running on another server node.',
      query: OrganizationQuery,
      params: AdminExecutionPath,
      response: ExecutionCancelResponse,
      codes: [ErrorCode.conflict],
      handle: async (context, { query, params }) => context.json(await browser.cancel((await organizations.organization(query.organization)).id, params.trace_id)),
    }),
    ...webhookAdminOperations(browser, organizations, declare),
  ];
}
