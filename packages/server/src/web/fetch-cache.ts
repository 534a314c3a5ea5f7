import { LRUCache } from 'lru-cache';
import type { WebFetchLimits, WebFetchResult } from './web-fetcher.js';
import { decideUrl } from './web-policy.js';

/** How long a fetched page is served again without fetching it. */
export const FETCH_CACHE_SECONDS = 300;
const FETCH_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Pages an organization's calls fetched, for five minutes: the same URL asked again by the same organization is
 * served without going out, when every hop it took is still allowed by the asking call's policy and the copy is
 * whole enough for its size limit. Answers other than 200 are not kept; nor is anything across organizations.
 */
export class FetchCache {
  readonly #entries = new LRUCache<string, WebFetchResult>({
    maxSize: FETCH_CACHE_BYTES,
    sizeCalculation: (result) => result.body.length + 1024,
    ttl: FETCH_CACHE_SECONDS * 1000,
  });

  get(organizationId: string, url: string, limits: WebFetchLimits): WebFetchResult | undefined {
    const kept = this.#entries.get(`${organizationId} ${url}`);
    if (kept === undefined) return undefined;
    const decisions = kept.hops.map((hop) => decideUrl(limits, new URL(hop.url)));
    if (!decisions.every((decision) => decision.allowed)) return undefined;
    if (kept.truncated && kept.body.length < limits.maxResponseBytes) return undefined;
    return {
      ...kept,
      body: kept.body.subarray(0, limits.maxResponseBytes),
      truncated: kept.truncated || kept.body.length > limits.maxResponseBytes,
      hops: kept.hops.map((hop, index) => ({ ...hop, rule: decisions[index]!.rule })),
      durationMs: 0,
    };
  }

  put(organizationId: string, url: string, result: WebFetchResult): void {
    if (result.status === 200) this.#entries.set(`${organizationId} ${url}`, result);
  }
}
