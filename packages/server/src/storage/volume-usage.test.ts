import { describe, expect, it } from 'vitest';
import { VolumeUsage } from './volume-usage.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function setup(measure: () => Promise<number>) {
  const recorded: number[] = [];
  const usage = new VolumeUsage({
    volumes: { measure },
    repository: { recordUsage: async (_org: string, _id: string, usedBytes: number) => void recorded.push(usedBytes) },
    logger: silent,
    budgetMs: 1000,
  });
  return { usage, recorded };
}

describe('VolumeUsage', () => {
  it('measures once at a time, and once more after a measurement the volume changed during', async () => {
    let started = 0;
    let release: () => void = () => undefined;
    const { usage, recorded } = setup(() => {
      started++;
      return new Promise((resolve) => (release = () => resolve(started * 100)));
    });
    usage.measureSoon('org', 'vol');
    usage.measureSoon('org', 'vol');
    usage.measureSoon('org', 'vol');
    expect(started).toBe(1);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(2);
    release();
    await usage.idle();
    expect(recorded).toEqual([100, 200]);
  });

  it("judges a quota by this node's latest measurement, else the recorded usage", async () => {
    const { usage } = setup(async () => 900);
    const volume = { volumeId: 'vol', slug: 'small', quotaBytes: 1000, usedBytes: 50 };
    expect(usage.excess(volume, 950)).toBeUndefined();
    expect(usage.excess(volume, 951)).toEqual({ usedBytes: 50, quotaBytes: 1000 });
    expect(usage.excess({ ...volume, quotaBytes: null }, 10 ** 12)).toBeUndefined();
    usage.measureSoon('org', 'vol');
    await usage.idle();
    expect(usage.excess(volume)).toBeUndefined();
    expect(usage.excess(volume, 101)).toEqual({ usedBytes: 900, quotaBytes: 1000 });
    expect(usage.excess({ ...volume, quotaBytes: 900 })).toEqual({ usedBytes: 900, quotaBytes: 900 });
  });

  it('keeps the last usage when a measurement fails', async () => {
    const { usage, recorded } = setup(async () => {
      throw new Error('took too long');
    });
    usage.measureSoon('org', 'vol');
    await usage.idle();
    expect(recorded).toEqual([]);
    expect(usage.excess({ volumeId: 'vol', slug: 'v', quotaBytes: 10, usedBytes: 10 })).toEqual({ usedBytes: 10, quotaBytes: 10 });
  });
});
