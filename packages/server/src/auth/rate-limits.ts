import { ErrorCode } from '@airlock/contracts';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../shared/api-error.js';

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * Per-key request rate (a token bucket holding a minute's allowance, refilled continuously) and per-organization
 * concurrent executions. Kept in this server's memory: with several nodes, each applies the limits on its own.
 */
export class RateLimits {
  readonly #perMinute: number;
  readonly #maxConcurrent: number;
  readonly #buckets = new LRUCache<string, Bucket>({ max: 100_000 });
  readonly #running = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: { requestsPerMinute: number; concurrentExecutionsPerOrganization: number; now?: () => number }) {
    this.#perMinute = options.requestsPerMinute;
    this.#maxConcurrent = options.concurrentExecutionsPerOrganization;
    this.#now = options.now ?? Date.now;
  }

  /** Takes one request from the key's allowance; 429 with Retry-After when there is none left. */
  takeRequest(keyId: string): RateLimitState {
    const now = this.#now();
    const perMs = this.#perMinute / 60_000;
    const bucket = this.#buckets.get(keyId) ?? { tokens: this.#perMinute, updatedAt: now };
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + (now - bucket.updatedAt) * perMs);
    bucket.updatedAt = now;
    this.#buckets.set(keyId, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      throw new ApiError(ErrorCode.rateLimited, `more than ${this.#perMinute} requests per minute with this API key`, {
        'Retry-After': String(retryAfter),
        ...headers({ limit: this.#perMinute, remaining: 0, resetSeconds: retryAfter }),
      });
    }
    bucket.tokens -= 1;
    return {
      limit: this.#perMinute,
      remaining: Math.floor(bucket.tokens),
      resetSeconds: Math.ceil((this.#perMinute - bucket.tokens) / perMs / 1000),
    };
  }

  /** Counts an execution of the organization while it runs; 429 when it already runs its maximum. */
  startExecution(orgId: string): () => void {
    const running = this.#running.get(orgId) ?? 0;
    if (running >= this.#maxConcurrent) {
      throw new ApiError(
        ErrorCode.rateLimited,
        `this organization already runs ${this.#maxConcurrent} executions at once; retry when one ends`,
        { 'Retry-After': '1' },
      );
    }
    this.#running.set(orgId, running + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.#running.get(orgId) ?? 1) - 1;
      if (left > 0) this.#running.set(orgId, left);
      else this.#running.delete(orgId);
    };
  }
}

/** The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers). */
export function headers(state: RateLimitState): Record<string, string> {
  return {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(state.remaining),
    'RateLimit-Reset': String(state.resetSeconds),
  };
}
