import { describe, expect, it } from 'vitest';
import { ApiError } from '../shared/api-error.js';
import { RateLimits } from './rate-limits.js';

const accepted = (take: () => unknown, times: number): number => {
  let count = 0;
  for (let i = 0; i < times; i += 1) {
    try {
      take();
      count += 1;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
  }
  return count;
};

describe('rate limits shared by several nodes', () => {
  it('give each node its share of the requests per minute, rounded up, and answer with the deployment-wide figures', () => {
    let nodes = 3;
    const limits = new RateLimits({ requestsPerMinute: 30, concurrentExecutionsPerOrganization: 4, nodes: () => nodes, now: () => 0 });
    expect(limits.takeRequest('key_1')).toEqual({ limit: 30, remaining: 27, resetSeconds: 6 });
    expect(accepted(() => limits.takeRequest('key_1'), 20)).toBe(9);
    // Alone, a node gives the whole allowance: the bucket grows as nodes leave.
    nodes = 1;
    const alone = new RateLimits({ requestsPerMinute: 30, concurrentExecutionsPerOrganization: 4, nodes: () => nodes, now: () => 0 });
    expect(accepted(() => alone.takeRequest('key_1'), 40)).toBe(30);
  });

  it('give each node its share of the concurrent executions, rounded up, and say so when refusing', () => {
    const limits = new RateLimits({ requestsPerMinute: 30, concurrentExecutionsPerOrganization: 4, nodes: () => 3 });
    const ends = [limits.startExecution('org_1'), limits.startExecution('org_1')];
    expect(() => limits.startExecution('org_1')).toThrow('already runs 2 executions on this server node, its share of 4 across 3 nodes');
    ends[0]?.();
    expect(() => limits.startExecution('org_1')).not.toThrow();
    const alone = new RateLimits({ requestsPerMinute: 30, concurrentExecutionsPerOrganization: 1, now: () => 0 });
    alone.startExecution('org_1');
    expect(() => alone.startExecution('org_1')).toThrow('this organization already runs 1 executions at once');
  });
});
