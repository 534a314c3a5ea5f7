import { randomBytes } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../shared/api-error.js';
import type { ApiKeyService } from '../auth/api-key-service.js';
import { headers as rateLimitHeaders, type RateLimits } from '../auth/rate-limits.js';
import type { AppEnv } from './app-context.js';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Runs `next` with headers every response carries: set before it, so a response the handler makes with the context
 * has them, and after it on a response made otherwise where they are missing. Setting a header on a finished
 * response copies it into a new one whose body the server must then stream, so a response that has them is left alone.
 */
export async function withHeaders(context: Context, headers: Record<string, string>, next: () => Promise<void>): Promise<void> {
  for (const [name, value] of Object.entries(headers)) context.header(name, value);
  await next();
  const { headers: present } = context.res;
  for (const [name, value] of Object.entries(headers)) {
    if (present.get(name) !== value) context.header(name, value);
  }
}

/** Echoes a well-formed incoming X-Request-Id or makes one; every response carries it. */
export const requestId: MiddlewareHandler<AppEnv> = async (context, next) => {
  context.set('acceptedAt', performance.now());
  const incoming = context.req.header('x-request-id');
  const id = incoming && REQUEST_ID_PATTERN.test(incoming) ? incoming : `req_${randomBytes(12).toString('hex')}`;
  context.set('requestId', id);
  await withHeaders(context, { 'X-Request-Id': id }, next);
};

export function authenticate(apiKeys: ApiKeyService, limits: RateLimits): MiddlewareHandler<AppEnv> {
  return async (context, next) => {
    const principal = await apiKeys.authenticate(context.req.header('authorization'));
    context.set('principal', principal);
    const state = limits.takeRequest(principal.apiKey.id);
    await withHeaders(context, rateLimitHeaders(state), next);
  };
}

/**
 * Parses a JSON body; malformed JSON is a validation error, not a server error. Bytes that are not UTF-8 are refused
 * (naming the first field they are in), never replaced: code is run exactly as sent or not at all.
 */
export function readJson(bytes: Uint8Array): unknown {
  const text = new TextDecoder('utf-8').decode(bytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw ApiError.validation('body: must be a JSON object');
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const field = fieldWithReplacement(parsed, []) ?? 'body';
    throw ApiError.validation(`${field}: must be valid UTF-8; the request has bytes that are not`);
  }
  return parsed;
}

/** The path of the first string (or key) in `value` that holds U+FFFD, where a decoder replaced bytes. */
function fieldWithReplacement(value: unknown, path: string[]): string | undefined {
  if (typeof value === 'string') return value.includes('\uFFFD') ? path.join('.') || 'body' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\uFFFD')) return [...path, key].join('.');
    const found = fieldWithReplacement(item, [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}
