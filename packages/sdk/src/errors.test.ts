import { ERROR_STATUS, ErrorCode } from '@airlock/contracts';
import { describe, expect, it } from 'vitest';
import {
  API_ERRORS,
  AirlockApiError,
  AirlockError,
  ConflictError,
  InternalServerError,
  RateLimitedError,
  ThreadBusyError,
  UnavailableError,
  ValidationError,
  apiError,
  errorFromResponse,
} from './errors.js';

const details = { message: 'm', requestId: 'req_1' };

describe('error mapping', () => {
  it('maps every wire code to a class and the status the server answers it with', () => {
    expect(Object.keys(API_ERRORS).sort()).toEqual(Object.values(ErrorCode).sort());
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(API_ERRORS[code as ErrorCode].status, code).toBe(status);
      const error = apiError({ ...details, status, code });
      expect(error).toBeInstanceOf(API_ERRORS[code as ErrorCode].errorClass);
      expect(error).toBeInstanceOf(AirlockApiError);
      expect(error).toBeInstanceOf(AirlockError);
      expect(error).toMatchObject({ status, code, message: 'm', requestId: 'req_1' });
    }
  });

  it('thread_busy is a ConflictError too; an answer without a known code is classed by its status', () => {
    expect(apiError({ ...details, status: 409, code: 'thread_busy' })).toBeInstanceOf(ConflictError);
    expect(apiError({ ...details, status: 409, code: 'thread_busy' }).name).toBe('ThreadBusyError');
    expect(apiError({ ...details, status: 409, code: 'conflict' })).not.toBeInstanceOf(ThreadBusyError);
    expect(apiError({ ...details, status: 503, code: 'http_503' })).toBeInstanceOf(UnavailableError);
    const newer = apiError({ ...details, status: 422, code: 'quota_exceeded' });
    expect(newer.constructor).toBe(AirlockApiError);
    expect(newer.code).toBe('quota_exceeded');
  });

  it('reads the body, the request id and Retry-After of an error answer', async () => {
    const response = new Response(JSON.stringify({ error: 'rate_limited', message: 'more than 2 requests per minute', request_id: 'req_9' }), {
      status: 429,
      headers: { 'retry-after': '30', 'x-request-id': 'req_other' },
    });
    const error = await errorFromResponse(response);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', message: 'more than 2 requests per minute', requestId: 'req_9' });
    expect((error as RateLimitedError).retryAfterSeconds).toBe(30);
  });

  it('an answer that is not an Airlock error (a proxy, a bucket) keeps its status, text and X-Request-Id', async () => {
    const error = await errorFromResponse(
      new Response('<Error>SlowDown</Error>', { status: 500, statusText: 'Internal Server Error', headers: { 'x-request-id': 'req_p' } }),
    );
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toMatchObject({ code: 'http_500', requestId: 'req_p', message: 'HTTP 500 Internal Server Error: <Error>SlowDown</Error>' });
    const empty = await errorFromResponse(new Response(null, { status: 400 }));
    expect(empty).toBeInstanceOf(ValidationError);
    expect(empty.message).toBe('HTTP 400');
    expect(empty.requestId).toBeUndefined();
  });
});
