import { ApiErrorBody, ERROR_STATUS, ErrorCode } from '@airlock/contracts';
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiResponseObject, ZodOpenApiResponsesObject } from 'zod-openapi';

/** Security scheme names, as operations refer to them. */
export const API_KEY = 'apiKey';
export const ADMIN_TOKEN = 'adminToken';
export const CONSOLE_SESSION = 'consoleSession';
export const NODE_SIGNATURE = 'nodeSignature';

export const securitySchemes = {
  [API_KEY]: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'sk-<region>-<secret>',
    description: 'An API key: `Authorization: Bearer sk-local-...`. Created on first start, or with `airlock keys create`.',
  },
  [ADMIN_TOKEN]: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An admin token: `Authorization: Bearer <token>`. The first is `AIRLOCK_ADMIN_TOKEN` or the file ' +
      '`<data dir>/admin-token` (the token `bootstrap`); owners make more with POST /admin/v1/admin-tokens. ' +
      'Sandbox API keys are never accepted here.',
  },
  [CONSOLE_SESSION]: {
    type: 'apiKey',
    in: 'cookie',
    name: 'airlock_session',
    description:
      'A console session, from signing in at /auth/oidc/login (or the bootstrap owner\'s one-time link). Requests that ' +
      'change something must carry this server\'s Origin.',
  },
  [NODE_SIGNATURE]: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Airlock-Node-Signature',
    description:
      'A call from another server node of the same deployment: `t=<unix seconds>,v1=<hex HMAC-SHA256>` of the time, ' +
      'method and path with query, keyed by a key derived from the master key the nodes share; valid for a minute.',
  },
} as const;

export const apiKeySecurity = [{ [API_KEY]: [] }];
export const adminSecurity: Array<Record<string, string[]>> = [{ [ADMIN_TOKEN]: [] }, { [CONSOLE_SESSION]: [] }];

const decimal = z.string().regex(/^[0-9]+$/);

const requestIdHeader = z.string().meta({
  description: 'The id of this request: the incoming X-Request-Id when it is well-formed, else a new `req_...` id.',
  header: { id: 'X-Request-Id' },
});
const retryAfterHeader = decimal.meta({ description: 'Seconds to wait before trying again.', header: { id: 'Retry-After' } });
const rateLimitHeaders = {
  'RateLimit-Limit': decimal.optional().meta({
    description: "Requests per minute this API key may make (the IETF RateLimit fields; on every `/v1` answer once the key is known).",
    header: { id: 'RateLimit-Limit' },
  }),
  'RateLimit-Remaining': decimal.optional().meta({
    description: 'Requests left in the current allowance.',
    header: { id: 'RateLimit-Remaining' },
  }),
  'RateLimit-Reset': decimal.optional().meta({
    description: 'Seconds until the allowance is full again.',
    header: { id: 'RateLimit-Reset' },
  }),
};

/** Headers of every answer. */
export const commonHeaders = z.object({ 'X-Request-Id': requestIdHeader });
/** Headers of answers to requests authenticated by an API key. */
export const apiKeyHeaders = z.object({ 'X-Request-Id': requestIdHeader, ...rateLimitHeaders });

/** Request headers every operation takes. */
export const commonRequestHeaders = z.object({
  'X-Request-Id': z.string().optional().meta({
    description: 'Echoed in the answer and in logs when it is 1-128 of `A-Za-z0-9._:-`; any other value is replaced by a new id.',
    param: { id: 'RequestId' },
  }),
});

const errorContent = { 'application/json': { schema: ApiErrorBody } };

function codesWithStatus(status: number): ErrorCode[] {
  return Object.values(ErrorCode).filter((code) => ERROR_STATUS[code] === status);
}

function errorResponse(code: ErrorCode, description: string, headers: z.ZodObject = commonHeaders): ZodOpenApiResponseObject {
  const id = code.replace(/(^|_)([a-z])/g, (_match, _separator, letter: string) => letter.toUpperCase());
  return { id, description: `\`${code}\`: ${description}`, headers, content: errorContent };
}

/** One reusable answer per stable error code (docs/api.md), with the status ERROR_STATUS gives it. */
export const errorResponses = {
  validation_error: errorResponse('validation_error', 'a body or parameter is invalid; the message names the field and the rule.'),
  unauthorized: errorResponse(
    'unauthorized',
    'the credential is missing, malformed, unknown or revoked.',
    commonHeaders.extend({ 'WWW-Authenticate': z.string().meta({ description: 'The scheme to authenticate with: `Bearer realm="airlock"`.' }) }),
  ),
  forbidden: errorResponse('forbidden', 'the credential is valid but does not allow this.'),
  not_found: errorResponse('not_found', 'no such resource in this organization (or no such endpoint).'),
  method_not_allowed: errorResponse(
    'method_not_allowed',
    'the path exists but does not answer this method.',
    commonHeaders.extend({ Allow: z.string().meta({ description: 'The methods the path answers, e.g. `GET, HEAD`.' }) }),
  ),
  request_timeout: errorResponse(
    'request_timeout',
    'the request body did not arrive in full within the body timeout (a signed upload: no bytes for that long); the connection is closed.',
  ),
  conflict: errorResponse('conflict', 'the resource is not in a state that allows this.'),
  thread_busy: errorResponse('thread_busy', 'the thread is running another execution; one at a time per thread.'),
  payload_too_large: errorResponse('payload_too_large', 'the request body is over the limit.'),
  unsupported_media_type: errorResponse('unsupported_media_type', 'a JSON body was sent without `Content-Type: application/json`.'),
  idempotency_key_reused: errorResponse(
    'idempotency_key_reused',
    'the `Idempotency-Key` was used within 24 hours for a different request (another body or API key); use a new key.',
  ),
  rate_limited: errorResponse(
    'rate_limited',
    "over the API key's requests per minute or the organization's concurrent executions; retry after `Retry-After` seconds.",
    apiKeyHeaders.extend({ 'Retry-After': retryAfterHeader }),
  ),
  internal_error: errorResponse('internal_error', 'a bug; the message never shows internals, quote its request id.'),
  unavailable: errorResponse(
    'unavailable',
    'no sandbox capacity, a dependency (storage, database) is down, or your address holds the most connections one ' +
      'address may (answered with `Connection: close`); retry after `Retry-After` seconds.',
    commonHeaders.extend({ 'Retry-After': retryAfterHeader }),
  ),
} satisfies Record<ErrorCode, ZodOpenApiResponseObject>;

/** The error answers for `codes`, keyed by status; codes sharing a status share one answer that names them all. */
export function errors(...codes: ErrorCode[]): ZodOpenApiResponsesObject {
  const responses: ZodOpenApiResponsesObject = {};
  const statuses = [...new Set([...codes, ErrorCode.internalError].map((code) => ERROR_STATUS[code]))];
  for (const status of statuses) {
    const listed = codesWithStatus(status).filter((code) => codes.includes(code) || code === ErrorCode.internalError);
    const [first] = listed;
    if (!first) continue;
    responses[`${status}` as `${1 | 2 | 3 | 4 | 5}${string}`] =
      listed.length === 1
        ? errorResponses[first]
        : {
            description: listed.map((code) => errorResponses[code].description).join(' '),
            headers: commonHeaders,
            content: errorContent,
          };
  }
  return responses;
}

/** Errors any request authenticated by an API key can meet before its handler runs. */
export const API_KEY_ERRORS: ErrorCode[] = [ErrorCode.unauthorized, ErrorCode.rateLimited, ErrorCode.payloadTooLarge];

/**
 * The document of an operation authenticated by an API key: the header parameters and credential of every such call,
 * its answers, and the errors of every API key call besides its own `codes`.
 */
export function apiKeyDocument(
  document: Omit<ZodOpenApiOperationObject, 'security' | 'responses'> & { responses: ZodOpenApiResponsesObject; codes: ErrorCode[] },
): ZodOpenApiOperationObject {
  const { responses, codes, requestParams, ...rest } = document;
  return {
    ...rest,
    security: apiKeySecurity,
    requestParams: { header: commonRequestHeaders, ...requestParams },
    responses: { ...responses, ...errors(...API_KEY_ERRORS, ...codes) },
  };
}
