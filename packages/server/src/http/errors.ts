import { ERROR_STATUS, ErrorCode, UNSERVED_FIELDS, type ApiErrorBody } from '@airlock/contracts';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { ApiError } from '../shared/api-error.js';
import type { Logger } from '../shared/logger.js';
import type { AppEnv } from './app-context.js';

/** The one place where errors become HTTP responses. */
export function errorResponse(context: Context<AppEnv>, error: unknown, logger: Logger): Response {
  const requestId = context.get('requestId') ?? '';
  let apiError: ApiError;
  if (error instanceof ApiError) {
    apiError = error;
  } else if (isClientAbort(error)) {
    // Nobody is left to read the answer; a client that goes away is not a server error.
    logger.info('client closed the request before its body arrived', { requestId, path: context.req.path });
    apiError = ApiError.validation('body: the request ended before its body arrived in full');
  } else {
    logger.error('unhandled error', { requestId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    apiError = new ApiError(ErrorCode.internalError, `internal error; quote request id ${requestId} when reporting it`);
  }
  const body: ApiErrorBody = { error: apiError.code, message: apiError.message, request_id: requestId };
  for (const [name, value] of Object.entries(apiError.headers)) context.header(name, value);
  return context.json(body, ERROR_STATUS[apiError.code] as ContentfulStatusCode);
}

/** A zod failure as a validation error naming the field and the rule. */
export function validationError(error: z.ZodError): ApiError {
  const issue = error.issues[0];
  if (!issue) return ApiError.validation('request body is invalid');
  if (issue.code === 'unrecognized_keys') {
    const unserved = issue.path.length === 0 ? issue.keys.find((key) => Object.hasOwn(UNSERVED_FIELDS, key)) : undefined;
    if (unserved !== undefined) return ApiError.validation(`${unserved}: ${UNSERVED_FIELDS[unserved]}`);
    const prefix = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return ApiError.validation(`${prefix}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`);
  }
  const field = issue.path.length > 0 ? issue.path.join('.') : 'body';
  return ApiError.validation(`${field}: ${issue.message}`);
}

/** Node's error for a request whose client hung up while its body was read. */
function isClientAbort(error: unknown): boolean {
  const failure = error as { code?: unknown; message?: unknown } | null;
  return typeof failure === 'object' && failure !== null && (failure.code === 'ECONNRESET' || failure.message === 'aborted');
}
