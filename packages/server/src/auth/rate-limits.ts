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
 * concurrent executions. Kept in this server's memory, no database round trip per request: with several nodes, each
 * applies its share of the limits (the limit divided by the nodes taking work, rounded up), which holds the
 * deployment's limits when the load balancer spreads requests evenly (round robin) and lets a skewed spread through at
 * up to one share per node. The answer's headers give the deployment-wide figures.
 */
export class RateLimits {
  readonly #perMinute: number;
  readonly #maxConcurrent: number;
  readonly #buckets = new LRUCache<string, Bucket>({ max: 100_000 });
  readonly #running = new Map<string, number>();
  readonly #now: () => number;
  readonly #nodes: () => number;

  constructor(options: {
    requestsPerMinute: number;
    concurrentExecutionsPerOrganization: number;
    /** The server nodes taking work, this one included. @default one */
    nodes?: () => number;
    now?: () => number;
  }) {
    this.#perMinute = options.requestsPerMinute;
    this.#maxConcurrent = options.concurrentExecutionsPerOrganization;
    this.#nodes = options.nodes ?? (() => 1);
    this.#now = options.now ?? Date.now;
  }

  /** Takes one request from the key's allowance; 429 with Retry-After when there is none left. */
  takeRequest(keyId: string): RateLimitState {
    const now = this.#now();
    const nodes = this.#nodes();
    const share = Math.ceil(this.#perMinute / nodes);
    const perMs = share / 60_000;
    const bucket = this.#buckets.get(keyId) ?? { tokens: share, updatedAt: now };
    bucket.tokens = Math.min(share, bucket.tokens + (now - bucket.updatedAt) * perMs);
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
      remaining: Math.min(this.#perMinute, Math.floor(bucket.tokens * nodes)),
      resetSeconds: Math.ceil((share - bucket.tokens) / perMs / 1000),
    };
  }

  /** Counts an execution of the organization while it runs; 429 when it already runs its share of the maximum. */
  startExecution(orgId: string): () => void {
    const running = this.#running.get(orgId) ?? 0;
    const nodes = this.#nodes();
    if (running >= Math.ceil(this.#maxConcurrent / nodes)) {
      const runs =
        nodes === 1
          ? `already runs ${this.#maxConcurrent} executions at once`
          : `already runs ${running} executions on this server node, its share of ${this.#maxConcurrent} across ${nodes} nodes`;
      throw new ApiError(ErrorCode.rateLimited, `this organization ${runs}; retry when one ends`, { 'Retry-After': '1' });
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
