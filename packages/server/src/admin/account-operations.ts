import { EraseOrganizationRequest, EraseOrganizationResponse, ErrorCode, OrganizationPath } from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import { jsonLinesResponse } from '../http/json-lines.js';
import type { AccountService } from './account-service.js';

/** An organization's data as a whole: export and erasure. Owners only. */
export function accountOperations(accounts: AccountService, declare: DeclareAdminOperation): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/organizations/{slug}/export',
      operationId: 'adminExportOrganization',
      audit: { action: 'organization.export', target: 'organization', always: true },
      role: 'owner',
      summary: "Export everything of an organization as JSON Lines",
      description:
        'An `application/x-ndjson` stream of `{"type", "data"}` lines: the organization, its sandbox configs, API keys, ' +
        'connectors and storage connections (no secrets), volumes, members, its executions within their retention ' +
        '(code, output, metadata, resource use) and its audit log, each as the admin API shows it.',
      params: OrganizationPath,
      codes: [],
      handle: (_context, { params }) =>
        jsonLinesResponse(accounts.export(params.slug), { 'Content-Disposition': `attachment; filename="${params.slug}.jsonl"` }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/organizations/{slug}/erase',
      operationId: 'adminEraseOrganization',
      audit: { action: 'organization.erase', target: 'organization' },
      role: 'owner',
      summary: "Erase an organization's data",
      description:
        'Revokes its keys; deletes its executions, threads (their layers go with the next sweep), connectors, storage ' +
        'connections, memberships and volume files; marks its sandbox configs and itself deleted. Its audit log stays ' +
        'until its retention ends. Refused (409) while it runs executions, and for `default`.',
      params: OrganizationPath,
      body: EraseOrganizationRequest,
      response: EraseOrganizationResponse,
      codes: [ErrorCode.payloadTooLarge, ErrorCode.conflict],
      handle: async (context, { params, body, audit }) => {
        const result = await accounts.erase(params.slug, body.confirm);
        audit.describe({ extra: result });
        return context.json(result);
      },
    }),
  ];
}
