import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgroupPool } from '../packages/runtime/src/cgroups/cgroup-pool.js';
import type { CgroupLimits, CgroupSlot } from '../packages/runtime/src/cgroups/cgroup-types.js';
import { detectCgroupHierarchy } from '../packages/runtime/src/cgroups/detect-cgroups.js';

let pool: CgroupPool;

beforeAll(async () => {
  const hierarchy = await detectCgroupHierarchy({ name: `airlock-slots-test-${process.pid}` });
  await hierarchy.initialize();
  pool = new CgroupPool(hierarchy);
});
afterAll(async () => {
  await pool?.close();
});

/** The limits a slot's control files hold, read back from the kernel (v1 or v2). */
function limitsOf(slot: CgroupSlot): CgroupLimits {
  const file = (name: string): string => {
    const directory = slot.procsFiles.map(dirname).find((candidate) => existsSync(join(candidate, name)));
    if (directory === undefined) throw new Error(`no ${name} in ${slot.procsFiles.join(', ')}`);
    return readFileSync(join(directory, name), 'utf8').trim();
  };
  if (pool.version === 2) {
    const [quota, period] = file('cpu.max').split(' ').map(Number);
    return { cpus: quota! / period!, memoryBytes: Number(file('memory.max')), pids: Number(file('pids.max')) };
  }
  return {
    cpus: Number(file('cpu.cfs_quota_us')) / Number(file('cpu.cfs_period_us')),
    memoryBytes: Number(file('memory.limit_in_bytes')),
    pids: Number(file('pids.max')),
  };
}

describe('cgroup slots', () => {
  it('a slot leased again holds the limits of each lease, whether they changed or not', async () => {
    const small: CgroupLimits = { cpus: 0.5, memoryBytes: 256 << 20, pids: 64 };
    const large: CgroupLimits = { cpus: 2, memoryBytes: 1024 << 20, pids: 512 };
    const leases: Array<[string, CgroupLimits]> = [];
    for (const limits of [small, small, large, large, small]) {
      const slot = await pool.lease(limits);
      leases.push([slot.name, limitsOf(slot)]);
      await pool.release(slot);
    }
    expect(new Set(leases.map(([name]) => name)).size).toBe(1);
    expect(leases.map(([, limits]) => limits)).toEqual([small, small, large, large, small]);
  });
});
