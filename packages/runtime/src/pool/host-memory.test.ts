import { describe, expect, it } from 'vitest';
import { hostHasMemoryForRefill } from './host-memory.js';

const meminfo = (totalKilobytes: number, availableKilobytes: number): string =>
  `MemTotal:       ${totalKilobytes} kB\nMemFree:        1000 kB\nMemAvailable:   ${availableKilobytes} kB\n`;

describe('hostHasMemoryForRefill', () => {
  it('keeps 10% of memory free', () => {
    expect(hostHasMemoryForRefill(meminfo(24_000_000, 3_000_000))).toBe(true);
    expect(hostHasMemoryForRefill(meminfo(24_000_000, 2_000_000))).toBe(false);
  });

  it('keeps at least 512 MiB free on small hosts', () => {
    expect(hostHasMemoryForRefill(meminfo(2_000_000, 600_000))).toBe(true);
    expect(hostHasMemoryForRefill(meminfo(2_000_000, 500_000))).toBe(false);
  });

  it('reads this host', () => {
    expect(typeof hostHasMemoryForRefill()).toBe('boolean');
  });
});
