import {
  ApiKeyListResponse,
  ApiKeyPath,
  CreateApiKeyRequest,
  CreatedApiKeyResponse,
  CreateSandboxRequest,
  ErrorCode,
  CreateOrganizationRequest,
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
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import { adminSecurity, commonHeaders, commonRequestHeaders, errors } from './openapi-components.js';


function adminOperation(
  operation: Omit<ZodOpenApiOperationObject, 'tags' | 'security' | 'responses'> & {
    status?: 200 | 201 | 204;
    response?: z.ZodType;
    codes: ErrorCode[];
  },
): ZodOpenApiOperationObject {
  const { status = 200, response, codes, requestParams, ...rest } = operation;
  return {
    ...rest,
    tags: ['Admin'],
    security: adminSecurity,
    requestParams: { query: OrganizationQuery, header: commonRequestHeaders, ...requestParams },
    responses: {
      [status]: {
        description: 'Done.',
        headers: commonHeaders,
        ...(response ? { content: { 'application/json': { schema: response } } } : {}),
      },
      ...errors(ErrorCode.unauthorized, ErrorCode.validationError, ErrorCode.notFound, ...codes),
    },
  };
}

const body = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema } } });
const BODY_ERRORS = [ErrorCode.payloadTooLarge];

/** Instance administration, authenticated by the admin token. */
export const adminPaths: ZodOpenApiPathsObject = {
  '/admin/v1/organizations': {
    get: adminOperation({
      operationId: 'adminListOrganizations',
      summary: 'List organizations',
      requestParams: { query: z.object({}) },
      response: OrganizationListResponse,
      codes: [],
    }),
    post: adminOperation({
      operationId: 'adminCreateOrganization',
      summary: 'Create an organization',
      requestParams: { query: z.object({}) },
      requestBody: body(CreateOrganizationRequest),
      status: 201,
      response: OrganizationSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
    }),
  },
  '/admin/v1/organizations/{slug}': {
    patch: adminOperation({
      operationId: 'adminUpdateOrganization',
      summary: "Change an organization's name or plan limits",
      description: 'Only the fields sent change. `max_timeout_seconds` caps the timeout of every execution in the organization.',
      requestParams: { query: z.object({}), path: OrganizationPath },
      requestBody: body(OrganizationSettingsRequest),
      response: OrganizationSummary,
      codes: BODY_ERRORS,
    }),
    delete: adminOperation({
      operationId: 'adminDeleteOrganization',
      summary: 'Delete an organization',
      description:
        'Refused (409) while the organization has unrevoked API keys, and for `default`. Its sandbox configs go with ' +
        'it and its slug is free again; its executions and threads stay until their retention ends.',
      requestParams: { query: z.object({}), path: OrganizationPath },
      status: 204,
      codes: [ErrorCode.conflict],
    }),
  },
  '/admin/v1/api-keys': {
    get: adminOperation({ operationId: 'adminListApiKeys', summary: "List an organization's API keys", response: ApiKeyListResponse, codes: [] }),
    post: adminOperation({
      operationId: 'adminCreateApiKey',
      summary: 'Create an API key',
      description: 'The answer is the only time the whole key is shown.',
      requestBody: body(CreateApiKeyRequest),
      status: 201,
      response: CreatedApiKeyResponse,
      codes: BODY_ERRORS,
    }),
  },
  '/admin/v1/api-keys/{id}': {
    delete: adminOperation({
      operationId: 'adminRevokeApiKey',
      summary: 'Revoke an API key',
      requestParams: { path: ApiKeyPath },
      status: 204,
      codes: [],
    }),
  },
  '/admin/v1/api-keys/{id}/rotate': {
    post: adminOperation({
      operationId: 'adminRotateApiKey',
      summary: "Replace an API key's secret",
      description:
        'The key keeps its id, name, sandbox config and settings; the answer is the only time the new key is shown, ' +
        'and the old one stops working (at once on this server, within AIRLOCK_AUTH_CACHE_SECONDS on others). ' +
        'A revoked key cannot be rotated (404).',
      requestParams: { path: ApiKeyPath },
      response: CreatedApiKeyResponse,
      codes: [],
    }),
  },
  '/admin/v1/sandboxes': {
    get: adminOperation({ operationId: 'adminListSandboxes', summary: "List an organization's sandbox configs", response: SandboxListResponse, codes: [] }),
    post: adminOperation({
      operationId: 'adminCreateSandbox',
      summary: 'Create a sandbox config',
      requestBody: body(CreateSandboxRequest),
      status: 201,
      response: SandboxSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
    }),
  },
  '/admin/v1/sandboxes/{name}': {
    patch: adminOperation({
      operationId: 'adminUpdateSandbox',
      summary: 'Change a sandbox config',
      description: 'Only the fields sent change. Keys using the config see the change at once on this server.',
      requestParams: { path: SandboxPath },
      requestBody: body(SandboxSettingsRequest),
      response: SandboxSummary,
      codes: BODY_ERRORS,
    }),
    delete: adminOperation({
      operationId: 'adminDeleteSandbox',
      summary: 'Delete a sandbox config',
      description: 'Refused (409) while unrevoked API keys use it. Its name is free again.',
      requestParams: { path: SandboxPath },
      status: 204,
      codes: [ErrorCode.conflict],
    }),
  },
  '/admin/v1/sandboxes/{name}/webhook-secret': {
    get: adminOperation({
      operationId: 'adminGetWebhookSecret',
      summary: "Read a sandbox config's webhook signing secret",
      requestParams: { path: SandboxPath },
      response: WebhookSecretResponse,
      codes: [],
    }),
  },
  '/admin/v1/sandboxes/{name}/webhook-secret/rotate': {
    post: adminOperation({
      operationId: 'adminRotateWebhookSecret',
      summary: "Replace a sandbox config's webhook signing secret",
      description: 'Deliveries from now on are signed with the new secret.',
      requestParams: { path: SandboxPath },
      response: WebhookSecretResponse,
      codes: [],
    }),
  },
};
