import {
  ApiKeyListResponse,
  ApiKeyPath,
  CreateApiKeyRequest,
  CreatedApiKeyResponse,
  CreateOrganizationRequest,
  CreateSandboxRequest,
  ErrorCode,
  OrganizationListResponse,
  OrganizationPath,
  OrganizationQuery,
  OrganizationSettingsRequest,
  OrganizationSummary,
  SandboxListResponse,
  SandboxPath,
  SandboxSettingsRequest,
  SandboxSummary,
  WebhookSecretResponse,
} from '@airlock/contracts';
import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { AppEnv } from '../http/app-context.js';
import { adminSecurity, commonHeaders, commonRequestHeaders, errors } from '../http/openapi/openapi-components.js';
import { operation, type Operation, type OperationInput } from '../http/operation.js';
import type { AdminService } from './admin-service.js';
import { ApiError } from '../shared/api-error.js';

const BODY_ERRORS = [ErrorCode.payloadTooLarge];

/** An admin operation: the admin token, the Admin tag, and the errors every admin call can meet. */
function adminOperation<Body = undefined, Query = undefined, Path = undefined>(
  requireAdmin: MiddlewareHandler<AppEnv>,
  declaration: {
    method: 'get' | 'post' | 'patch' | 'delete';
    path: string;
    operationId: string;
    summary: string;
    description?: string;
    body?: z.ZodType<Body>;
    query?: z.ZodType<Query> & z.ZodObject;
    params?: z.ZodType<Path> & z.ZodObject;
    status?: 200 | 201 | 204;
    response?: z.ZodType;
    codes: ErrorCode[];
    handle: (context: Context<AppEnv>, input: OperationInput<Body, Query, Path>) => Promise<Response>;
  },
): Operation {
  const { status = 200, response, codes, operationId, summary, description, ...route } = declaration;
  return operation({
    ...route,
    middleware: [requireAdmin],
    document: {
      operationId,
      summary,
      ...(description ? { description } : {}),
      tags: ['Admin'],
      security: adminSecurity,
      requestParams: { header: commonRequestHeaders },
      responses: {
        [status]: {
          description: 'Done.',
          headers: commonHeaders,
          ...(response ? { content: { 'application/json': { schema: response } } } : {}),
        },
        ...errors(ErrorCode.unauthorized, ErrorCode.validationError, ErrorCode.notFound, ...codes),
      },
    },
  });
}

/** Instance administration, authenticated by the admin token (never by sandbox API keys). */
export function adminOperations(admin: AdminService): Operation[] {
  const requireAdmin: MiddlewareHandler<AppEnv> = async (context, next) => {
    const token = /^Bearer\s+(\S+)$/i.exec(context.req.header('authorization') ?? '')?.[1];
    if (!token || !admin.isAdminToken(token)) {
      throw ApiError.unauthorized('admin endpoints need Authorization: Bearer <admin token>');
    }
    await next();
  };
  const declare: Declare = (declaration) => adminOperation(requireAdmin, declaration);
  return [...organizationOperations(declare, admin), ...apiKeyOperations(declare, admin), ...sandboxOperations(declare, admin)];
}

/** Declares an admin operation (adminOperation with the admin token check). */
type Declare = <Body = undefined, Query = undefined, Path = undefined>(
  declaration: Parameters<typeof adminOperation<Body, Query, Path>>[1],
) => Operation;

/** Organizations: list, create, change, delete. */
function organizationOperations(declare: Declare, admin: AdminService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/organizations',
      operationId: 'adminListOrganizations',
      summary: 'List organizations',
      response: OrganizationListResponse,
      codes: [],
      handle: async (context) => context.json({ organizations: await admin.listOrganizations() }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/organizations',
      operationId: 'adminCreateOrganization',
      summary: 'Create an organization',
      body: CreateOrganizationRequest,
      status: 201,
      response: OrganizationSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
      handle: async (context, { body }) => context.json(await admin.createOrganization(body), 201),
    }),
    declare({
      method: 'patch',
      path: '/admin/v1/organizations/{slug}',
      operationId: 'adminUpdateOrganization',
      summary: "Change an organization's name or plan limits",
      description: 'Only the fields sent change. `max_timeout_seconds` caps the timeout of every execution in the organization.',
      params: OrganizationPath,
      body: OrganizationSettingsRequest,
      response: OrganizationSummary,
      codes: BODY_ERRORS,
      handle: async (context, { params, body }) => context.json(await admin.updateOrganization(params.slug, body)),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/organizations/{slug}',
      operationId: 'adminDeleteOrganization',
      summary: 'Delete an organization',
      description:
        'Refused (409) while the organization has unrevoked API keys, and for `default`. Its sandbox configs go with ' +
        'it and its slug is free again; its executions and threads stay until their retention ends.',
      params: OrganizationPath,
      status: 204,
      codes: [ErrorCode.conflict],
      handle: async (context, { params }) => {
        await admin.deleteOrganization(params.slug);
        return context.body(null, 204);
      },
    }),
  ];
}

/** An organization's API keys: list, create, revoke, rotate. */
function apiKeyOperations(declare: Declare, admin: AdminService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/api-keys',
      operationId: 'adminListApiKeys',
      summary: "List an organization's API keys",
      query: OrganizationQuery,
      response: ApiKeyListResponse,
      codes: [],
      handle: async (context, { query }) => context.json({ api_keys: await admin.listKeys(query.organization) }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/api-keys',
      operationId: 'adminCreateApiKey',
      summary: 'Create an API key',
      description: 'The answer is the only time the whole key is shown.',
      query: OrganizationQuery,
      body: CreateApiKeyRequest,
      status: 201,
      response: CreatedApiKeyResponse,
      codes: BODY_ERRORS,
      handle: async (context, { body }) => context.json(await admin.createKey(body), 201),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/api-keys/{id}',
      operationId: 'adminRevokeApiKey',
      summary: 'Revoke an API key',
      query: OrganizationQuery,
      params: ApiKeyPath,
      status: 204,
      codes: [],
      handle: async (context, { query, params }) => {
        await admin.revokeKey(params.id, query.organization);
        return context.body(null, 204);
      },
    }),
    declare({
      method: 'post',
      path: '/admin/v1/api-keys/{id}/rotate',
      operationId: 'adminRotateApiKey',
      summary: "Replace an API key's secret",
      description:
        'The key keeps its id, name, sandbox config and settings; the answer is the only time the new key is shown, ' +
        'and the old one stops working (at once on this server, within AIRLOCK_AUTH_CACHE_SECONDS on others). ' +
        'A revoked key cannot be rotated (404).',
      query: OrganizationQuery,
      params: ApiKeyPath,
      response: CreatedApiKeyResponse,
      codes: [],
      handle: async (context, { query, params }) => context.json(await admin.rotateKey(params.id, query.organization)),
    }),
  ];
}

/** An organization's sandbox configs and their webhook signing secrets. */
function sandboxOperations(declare: Declare, admin: AdminService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/sandboxes',
      operationId: 'adminListSandboxes',
      summary: "List an organization's sandbox configs",
      query: OrganizationQuery,
      response: SandboxListResponse,
      codes: [],
      handle: async (context, { query }) => context.json({ sandboxes: await admin.listSandboxes(query.organization) }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/sandboxes',
      operationId: 'adminCreateSandbox',
      summary: 'Create a sandbox config',
      query: OrganizationQuery,
      body: CreateSandboxRequest,
      status: 201,
      response: SandboxSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
      handle: async (context, { body }) => {
        const { name, organization, ...settings } = body;
        return context.json(await admin.createSandbox(name, settings, organization), 201);
      },
    }),
    declare({
      method: 'patch',
      path: '/admin/v1/sandboxes/{name}',
      operationId: 'adminUpdateSandbox',
      summary: 'Change a sandbox config',
      description: 'Only the fields sent change. Keys using the config see the change at once on this server.',
      query: OrganizationQuery,
      params: SandboxPath,
      body: SandboxSettingsRequest,
      response: SandboxSummary,
      codes: BODY_ERRORS,
      handle: async (context, { query, params, body }) => context.json(await admin.updateSandbox(params.name, body, query.organization)),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/sandboxes/{name}',
      operationId: 'adminDeleteSandbox',
      summary: 'Delete a sandbox config',
      description: 'Refused (409) while unrevoked API keys use it. Its name is free again.',
      query: OrganizationQuery,
      params: SandboxPath,
      status: 204,
      codes: [ErrorCode.conflict],
      handle: async (context, { query, params }) => {
        await admin.deleteSandbox(params.name, query.organization);
        return context.body(null, 204);
      },
    }),
    declare({
      method: 'get',
      path: '/admin/v1/sandboxes/{name}/webhook-secret',
      operationId: 'adminGetWebhookSecret',
      summary: "Read a sandbox config's webhook signing secret",
      query: OrganizationQuery,
      params: SandboxPath,
      response: WebhookSecretResponse,
      codes: [],
      handle: async (context, { query, params }) =>
        context.json(await admin.webhookSecret(params.name, { rotate: false, organization: query.organization })),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/sandboxes/{name}/webhook-secret/rotate',
      operationId: 'adminRotateWebhookSecret',
      summary: "Replace a sandbox config's webhook signing secret",
      description: 'Deliveries from now on are signed with the new secret.',
      query: OrganizationQuery,
      params: SandboxPath,
      response: WebhookSecretResponse,
      codes: [],
      handle: async (context, { query, params }) =>
        context.json(await admin.webhookSecret(params.name, { rotate: true, organization: query.organization })),
    }),
  ];
}
