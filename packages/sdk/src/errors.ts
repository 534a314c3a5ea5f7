import type { ErrorCode } from '@airlock/contracts';
import { parseRetryAfter } from './retry.js';

/** Everything the SDK throws is an AirlockError: an answer of the server (AirlockApiError) or a local failure. */
export class AirlockError extends Error {
  override readonly name: string = 'AirlockError';
}

/** A wire code this SDK knows, or another (a newer server's, or `http_<status>`). */
export type ApiErrorCode = ErrorCode | (string & Record<never, never>);

export interface ApiErrorDetails {
  /** The HTTP status of the answer. */
  status: number;
  /** The stable wire code (`validation_error`, `thread_busy`, ...); `http_<status>` for an answer without one. */
  code: ApiErrorCode;
  /** The server's sentence: names the field and the rule, or how to fix the problem. */
  message: string;
  /** The request's X-Request-Id; quote it when reporting a problem. */
  requestId: string | undefined;
  /** Seconds the server asked to wait before trying again (`Retry-After`). */
  retryAfterSeconds?: number | undefined;
}

/** An error answer of the Airlock API. Subclasses per wire code; `code` also holds codes this SDK does not know. */
export class AirlockApiError extends AirlockError {
  override readonly name: string = 'AirlockApiError';
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly requestId: string | undefined;
  /** Seconds the server asked to wait before trying again; it sends them with 429 and 503 answers. */
  readonly retryAfterSeconds: number | undefined;

  constructor(details: ApiErrorDetails) {
    super(details.message);
    this.status = details.status;
    this.code = details.code;
    this.requestId = details.requestId;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** 400 `validation_error`: the message names the field and the rule. */
export class ValidationError extends AirlockApiError {
  override readonly name: string = 'ValidationError';
}

/** 401 `unauthorized`: the API key is missing, malformed, unknown or revoked. */
export class UnauthorizedError extends AirlockApiError {
  override readonly name: string = 'UnauthorizedError';
}

/** 403 `forbidden`: the key is valid but may not do this, or a signed URL does not allow it. */
export class ForbiddenError extends AirlockApiError {
  override readonly name: string = 'ForbiddenError';
}

/** 404 `not_found`: no such execution, thread or file in this organization. */
export class NotFoundError extends AirlockApiError {
  override readonly name: string = 'NotFoundError';
}

/** 405 `method_not_allowed`: the path exists but does not answer this method. */
export class MethodNotAllowedError extends AirlockApiError {
  override readonly name: string = 'MethodNotAllowedError';
}

/**
 * 408 `request_timeout`: the request's body did not arrive in time (or stalled, for an upload); the server closed
 * the connection. Send the body without pauses.
 */
export class RequestTimeoutError extends AirlockApiError {
  override readonly name: string = 'RequestTimeoutError';
}

/** 409 `conflict`: the resource is not in a state that allows this (e.g. a thread fork onto an existing thread). */
export class ConflictError extends AirlockApiError {
  override readonly name: string = 'ConflictError';
}

/** 409 `thread_busy`: another execution runs on this thread; one runs at a time. */
export class ThreadBusyError extends ConflictError {
  override readonly name: string = 'ThreadBusyError';
}

/** 413 `payload_too_large`: the request body is over the server's limit. */
export class PayloadTooLargeError extends AirlockApiError {
  override readonly name: string = 'PayloadTooLargeError';
}

/** 415 `unsupported_media_type`: a JSON endpoint was sent a body that is not `application/json`. */
export class UnsupportedMediaTypeError extends AirlockApiError {
  override readonly name: string = 'UnsupportedMediaTypeError';
}

/**
 * 422 `idempotency_key_reused`: the Idempotency-Key was used within 24 hours for a different request (another body
 * or API key); send this request with a new key.
 */
export class IdempotencyKeyReusedError extends AirlockApiError {
  override readonly name: string = 'IdempotencyKeyReusedError';
}

/** 429 `rate_limited`: too many requests or executions at once; retry after `retryAfterSeconds`. */
export class RateLimitedError extends AirlockApiError {
  override readonly name: string = 'RateLimitedError';
}

/** 500 `internal_error`: a bug in the server; the message holds the request id to report. */
export class InternalServerError extends AirlockApiError {
  override readonly name: string = 'InternalServerError';
}

/** 503 `unavailable`: no capacity or a dependency is down; retry after `retryAfterSeconds`. */
export class UnavailableError extends AirlockApiError {
  override readonly name: string = 'UnavailableError';
}

/** The request did not reach the server or its answer did not arrive (refused, reset, DNS, a dropped stream). */
export class AirlockConnectionError extends AirlockError {
  override readonly name: string = 'AirlockConnectionError';
}

/** The client's own time limit (`timeoutMs`) passed before the answer arrived. */
export class AirlockTimeoutError extends AirlockError {
  override readonly name: string = 'AirlockTimeoutError';
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number) {
    super(message);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal aborted the call; `cause` is the signal's reason. */
export class AirlockAbortError extends AirlockError {
  override readonly name: string = 'AirlockAbortError';
}

/** The client or a call was given options it cannot work with (no API key, a bad URL, ...); nothing was sent. */
export class AirlockConfigurationError extends AirlockError {
  override readonly name: string = 'AirlockConfigurationError';
}

type ApiErrorClass = new (details: ApiErrorDetails) => AirlockApiError;

/**
 * Every wire code with its HTTP status and class. A code added to the contract's ErrorCode fails to compile here
 * until it is mapped.
 */
export const API_ERRORS: Record<ErrorCode, { status: number; errorClass: ApiErrorClass }> = {
  validation_error: { status: 400, errorClass: ValidationError },
  unauthorized: { status: 401, errorClass: UnauthorizedError },
  forbidden: { status: 403, errorClass: ForbiddenError },
  not_found: { status: 404, errorClass: NotFoundError },
  method_not_allowed: { status: 405, errorClass: MethodNotAllowedError },
  request_timeout: { status: 408, errorClass: RequestTimeoutError },
  conflict: { status: 409, errorClass: ConflictError },
  thread_busy: { status: 409, errorClass: ThreadBusyError },
  payload_too_large: { status: 413, errorClass: PayloadTooLargeError },
  unsupported_media_type: { status: 415, errorClass: UnsupportedMediaTypeError },
  idempotency_key_reused: { status: 422, errorClass: IdempotencyKeyReusedError },
  rate_limited: { status: 429, errorClass: RateLimitedError },
  internal_error: { status: 500, errorClass: InternalServerError },
  unavailable: { status: 503, errorClass: UnavailableError },
};

function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(API_ERRORS, code);
}

/** Codes whose class says more than their status: an answer is given one only by its code. */
const ONLY_BY_CODE: ReadonlySet<ErrorCode> = new Set(['thread_busy', 'idempotency_key_reused']);

/**
 * The error for an answer's status and body: by its wire code when the body has one, else by its status (an answer
 * from a proxy or a bucket), else an AirlockApiError.
 */
export function apiError(details: ApiErrorDetails): AirlockApiError {
  if (isErrorCode(details.code)) return new API_ERRORS[details.code].errorClass(details);
  const byStatus = Object.entries(API_ERRORS).find(
    ([code, entry]) => entry.status === details.status && !ONLY_BY_CODE.has(code as ErrorCode),
  )?.[1];
  return byStatus ? new byStatus.errorClass(details) : new AirlockApiError(details);
}

/** Reads an error answer; its body is consumed. */
export async function errorFromResponse(response: Response, now = Date.now()): Promise<AirlockApiError> {
  const text = await response.text().catch(() => '');
  let body: { error?: unknown; message?: unknown; request_id?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') body = parsed;
  } catch {
    // not JSON: a proxy's or a bucket's answer
  }
  const snippet = text.trim().slice(0, 200);
  return apiError({
    status: response.status,
    code: typeof body.error === 'string' ? body.error : `http_${response.status}`,
    message:
      typeof body.message === 'string'
        ? body.message
        : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${snippet ? `: ${snippet}` : ''}`,
    requestId: typeof body.request_id === 'string' ? body.request_id : (response.headers.get('x-request-id') ?? undefined),
    retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after'), now),
  });
}
