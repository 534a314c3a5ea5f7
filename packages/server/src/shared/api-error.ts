import { ErrorCode } from '@airlock/contracts';

/** An error that crosses the wire with a stable code; the HTTP layer maps it to a status in one place. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  static validation(message: string): ApiError {
    return new ApiError(ErrorCode.validationError, message);
  }

  static unauthorized(message = 'missing, malformed, unknown or revoked API key; send Authorization: Bearer sk-...'): ApiError {
    return new ApiError(ErrorCode.unauthorized, message, { 'WWW-Authenticate': 'Bearer realm="airlock"' });
  }

  static forbidden(message: string): ApiError {
    return new ApiError(ErrorCode.forbidden, message);
  }

  static notFound(message: string): ApiError {
    return new ApiError(ErrorCode.notFound, message);
  }

  /** A path that exists, asked with a method it lacks; `allowed` becomes the Allow header. */
  static methodNotAllowed(method: string, path: string, allowed: string[]): ApiError {
    return new ApiError(ErrorCode.methodNotAllowed, `${path} does not answer ${method}; it answers ${allowed.join(', ')}`, {
      Allow: allowed.join(', '),
    });
  }

  static unavailable(message: string, retryAfterSeconds = 5): ApiError {
    return new ApiError(ErrorCode.unavailable, message, { 'Retry-After': String(retryAfterSeconds) });
  }
}
