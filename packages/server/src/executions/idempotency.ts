import { createHash } from 'node:crypto';
import type { ExecuteRequest } from '@airlock/contracts';
import { ApiError } from '../shared/api-error.js';
import type { Principal } from '../auth/api-key-service.js';

/** An execute request's Idempotency-Key and the fingerprint of what it asks for. */
export interface Idempotency {
  key: string;
  fingerprint: string;
}

/** Visible ASCII, as clients generate them (UUIDs, ULIDs, hashes). */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's idempotency, from its `Idempotency-Key` header; undefined without one. The fingerprint covers the
 * validated request (defaults applied, keys in a fixed order) and the API key, so the same key with another body or
 * through another API key is told apart from a retry.
 */
export function readIdempotency(header: string | undefined, principal: Principal, request: ExecuteRequest): Idempotency | undefined {
  if (header === undefined) return undefined;
  if (!KEY_PATTERN.test(header)) {
    throw ApiError.validation('Idempotency-Key: 1 to 255 visible ASCII characters (for example a UUID)');
  }
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([principal.apiKey.id, canonical(request)]))
    .digest('hex');
  return { key: header, fingerprint };
}

/** The value with every object's keys sorted, so equal requests serialize alike whatever their key order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, item]) => item !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, item]) => [name, canonical(item)]),
    );
  }
  return value;
}
