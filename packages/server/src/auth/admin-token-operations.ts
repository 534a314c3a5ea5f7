import { AdminTokenListResponse, AdminTokenPath, AdminTokenSummary, CreateAdminTokenRequest, CreatedAdminTokenResponse, ErrorCode } from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { AdminTokenService } from './admin-token-service.js';

/** Admin tokens: list, create (shown once), revoke. Owners only. */
export function adminTokenOperations(tokens: AdminTokenService, declare: DeclareAdminOperation): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/admin-tokens',
      operationId: 'adminListAdminTokens',
      audit: { action: 'admin_token.list', target: 'admin_token' },
      role: 'owner',
      summary: 'List admin tokens',
      response: AdminTokenListResponse,
      codes: [],
      handle: async (context) => context.json({ admin_tokens: await tokens.list() }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/admin-tokens',
      operationId: 'adminCreateAdminToken',
      audit: { action: 'admin_token.create', target: 'admin_token' },
      role: 'owner',
      summary: 'Create an admin token',
      description: 'The answer is the only time the whole token is shown; only its SHA-256 is stored.',
      body: CreateAdminTokenRequest,
      status: 201,
      response: CreatedAdminTokenResponse,
      codes: [ErrorCode.payloadTooLarge, ErrorCode.conflict],
      handle: async (context, { body, principal, audit }) => {
        const created = await tokens.create(body, principal.actor);
        audit.describe({ targetId: created.id });
        return context.json(created, 201);
      },
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/admin-tokens/{id}',
      operationId: 'adminRevokeAdminToken',
      audit: { action: 'admin_token.revoke', target: 'admin_token' },
      role: 'owner',
      summary: 'Revoke an admin token',
      description: 'It stops working at once, on every server.',
      params: AdminTokenPath,
      response: AdminTokenSummary,
      codes: [],
      handle: async (context, { params }) => context.json(await tokens.revoke(params.id)),
    }),
  ];
}
