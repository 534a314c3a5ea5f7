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
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { AdminService } from './admin-service.js';

const BODY_ERRORS = [ErrorCode.payloadTooLarge];

/** Instance administration, authenticated by the admin token (never by sandbox API keys). */
export function adminOperations(admin: AdminService, declare: DeclareAdminOperation): Operation[] {
  return [...organizationOperations(declare, admin), ...apiKeyOperations(declare, admin), ...sandboxOperations(declare, admin)];
}

/** Organizations: list, create, change, delete. */
function organizationOperations(declare: DeclareAdminOperation, admin: AdminService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/organizations',
      operationId: 'adminListOrganizations',
      audit: { action: 'organization.list', target: 'organization' },
      summary: 'List organizations',
      response: OrganizationListResponse,
      codes: [],
      handle: async (context) => context.json({ organizations: await admin.listOrganizations() }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/organizations',
      operationId: 'adminCreateOrganization',
      role: 'owner',
      audit: { action: 'organization.create', target: 'organization' },
      summary: 'Create an organization',
      body: CreateOrganizationRequest,
      status: 201,
      response: OrganizationSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
      handle: async (context, { body, audit }) => {
        const created = await admin.createOrganization(body);
        audit.describe({ organizationId: created.id, targetId: created.slug, after: created });
        return context.json(created, 201);
      },
    }),
    declare({
      method: 'get',
      path: '/admin/v1/organizations/{slug}',
      operationId: 'adminGetOrganization',
      audit: { action: 'organization.read', target: 'organization' },
      summary: 'Read an organization',
      params: OrganizationPath,
      response: OrganizationSummary,
      codes: [],
      handle: async (context, { params }) => context.json(await admin.getOrganization(params.slug)),
    }),
    declare({
      method: 'patch',
      path: '/admin/v1/organizations/{slug}',
      operationId: 'adminUpdateOrganization',
      audit: { action: 'organization.update', target: 'organization' },
      summary: "Change an organization's name or plan limits",
      description: 'Only the fields sent change. `max_timeout_seconds` caps the timeout of every execution in the organization.',
      params: OrganizationPath,
      body: OrganizationSettingsRequest,
      response: OrganizationSummary,
      codes: BODY_ERRORS,
      handle: async (context, { params, body, audit }) => {
        const before = await admin.getOrganization(params.slug);
        const after = await admin.updateOrganization(params.slug, body);
        audit.describe({ organizationId: after.id, before, after });
        return context.json(after);
      },
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/organizations/{slug}',
      operationId: 'adminDeleteOrganization',
      role: 'owner',
      audit: { action: 'organization.delete', target: 'organization' },
      summary: 'Delete an organization',
      description:
        'Refused (409) while the organization has unrevoked API keys, and for `default`. Its sandbox configs go with ' +
        'it and its slug is free again; its executions and threads stay until their retention ends.',
      params: OrganizationPath,
      status: 204,
      codes: [ErrorCode.conflict],
      handle: async (context, { params, audit }) => {
        audit.describe({ organizationId: (await admin.organization(params.slug)).id });
        await admin.deleteOrganization(params.slug);
        return context.body(null, 204);
      },
    }),
  ];
}

/** An organization's API keys: list, create, revoke, rotate. */
function apiKeyOperations(declare: DeclareAdminOperation, admin: AdminService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/api-keys',
      operationId: 'adminListApiKeys',
      audit: { action: 'api_key.list', target: 'api_key' },
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
      audit: { action: 'api_key.create', target: 'api_key' },
      summary: 'Create an API key',
      description: 'The answer is the only time the whole key is shown.',
      query: OrganizationQuery,
      body: CreateApiKeyRequest,
      status: 201,
      response: CreatedApiKeyResponse,
      codes: BODY_ERRORS,
      handle: async (context, { query, body, audit }) => {
        const created = await admin.createKey({ ...body, organization: body.organization ?? query.organization });
        audit.describe({ targetId: created.id, after: created });
        return context.json(created, 201);
      },
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/api-keys/{id}',
      operationId: 'adminRevokeApiKey',
      audit: { action: 'api_key.revoke', target: 'api_key' },
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
      audit: { action: 'api_key.rotate', target: 'api_key' },
      summary: "Replace an API key's secret",
      description:
        'The key keeps its id, name, sandbox config and settings; the answer is the only time the new key is shown, ' +
        'and the old one stops working (at once on this server, within AIRLOCK_AUTH_CACHE_SECONDS on others). ' +
        'A revoked key cannot be rotated (404).',
      query: OrganizationQuery,
      params: ApiKeyPath,
      response: CreatedApiKeyResponse,
      codes: [],
      handle: async (context, { query, params, audit }) => {
        const rotated = await admin.rotateKey(params.id, query.organization);
        audit.describe({ extra: { key: 'changed', display_prefix: rotated.display_prefix } });
        return context.json(rotated);
      },
    }),
  ];
}

/** An organization's sandbox configs and their webhook signing secrets. */
function sandboxOperations(declare: DeclareAdminOperation, admin: AdminService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/sandboxes',
      operationId: 'adminListSandboxes',
      audit: { action: 'sandbox.list', target: 'sandbox' },
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
      audit: { action: 'sandbox.create', target: 'sandbox' },
      summary: 'Create a sandbox config',
      query: OrganizationQuery,
      body: CreateSandboxRequest,
      status: 201,
      response: SandboxSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
      handle: async (context, { query, body, audit }) => {
        const { name, organization, ...settings } = body;
        const created = await admin.createSandbox(name, settings, organization ?? query.organization);
        audit.describe({ targetId: created.name, after: created });
        return context.json(created, 201);
      },
    }),
    declare({
      method: 'patch',
      path: '/admin/v1/sandboxes/{name}',
      operationId: 'adminUpdateSandbox',
      audit: { action: 'sandbox.update', target: 'sandbox' },
      summary: 'Change a sandbox config',
      description: 'Only the fields sent change. Keys using the config see the change at once on this server.',
      query: OrganizationQuery,
      params: SandboxPath,
      body: SandboxSettingsRequest,
      response: SandboxSummary,
      codes: BODY_ERRORS,
      handle: async (context, { query, params, body, audit }) => {
        const before = await admin.getSandbox(params.name, query.organization);
        const after = await admin.updateSandbox(params.name, body, query.organization);
        audit.describe({ before, after });
        return context.json(after);
      },
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/sandboxes/{name}',
      operationId: 'adminDeleteSandbox',
      audit: { action: 'sandbox.delete', target: 'sandbox' },
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
      role: 'admin',
      audit: { action: 'sandbox.webhook_secret.read', target: 'sandbox', always: true },
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
      audit: { action: 'sandbox.webhook_secret.rotate', target: 'sandbox' },
      summary: "Replace a sandbox config's webhook signing secret",
      description: 'Deliveries from now on are signed with the new secret.',
      query: OrganizationQuery,
      params: SandboxPath,
      response: WebhookSecretResponse,
      codes: [],
      handle: async (context, { query, params, audit }) => {
        const rotated = await admin.webhookSecret(params.name, { rotate: true, organization: query.organization });
        audit.describe({ extra: { secret: 'changed' } });
        return context.json(rotated);
      },
    }),
  ];
}
