import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';

/** statfs magic number of a cgroup v2 (unified) mount. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** The facts that decide how comparable two benchmark runs are. */
export interface MachineFacts {
  date: string;
  processors: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  /** `v2` when /sys/fs/cgroup is the unified hierarchy, else `v1` (legacy or hybrid). */
  cgroupVersion: 'v1' | 'v2';
  nodeVersion: string;
  bubblewrapVersion: string;
}

export function readMachineFacts(): MachineFacts {
  return {
    date: new Date().toISOString(),
    processors: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    cgroupVersion: statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC ? 'v2' : 'v1',
    nodeVersion: process.version,
    bubblewrapVersion: execFileSync('bwrap', ['--version'], { encoding: 'utf8' }).trim(),
  };
}
