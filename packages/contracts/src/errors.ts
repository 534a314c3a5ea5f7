/** Stable wire error codes. Each one maps to exactly one HTTP status in ERROR_STATUS. */
export const ErrorCode = {
  validationError: 'validation_error',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  notFound: 'not_found',
  methodNotAllowed: 'method_not_allowed',
  requestTimeout: 'request_timeout',
  conflict: 'conflict',
  threadBusy: 'thread_busy',
  payloadTooLarge: 'payload_too_large',
  unsupportedMediaType: 'unsupported_media_type',
  idempotencyKeyReused: 'idempotency_key_reused',
  rateLimited: 'rate_limited',
  internalError: 'internal_error',
  unavailable: 'unavailable',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ERROR_STATUS: Record<ErrorCode, number> = {
  validation_error: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  thread_busy: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
};
