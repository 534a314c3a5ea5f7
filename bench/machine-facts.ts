import { execFileSync } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

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
  /** One-minute load average when the run started: anything else running skews every figure. */
  loadAverage: number;
}

export function readMachineFacts(options: { bubblewrapPath: string }): MachineFacts {
  return {
    date: new Date().toISOString(),
    processors: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    cgroupVersion: statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC ? 'v2' : 'v1',
    nodeVersion: process.version,
    bubblewrapVersion: execFileSync(options.bubblewrapPath, ['--version'], { encoding: 'utf8' }).trim(),
    loadAverage: loadavg()[0]!,
  };
}

/** Busy and total CPU time of the whole machine since boot, in clock ticks, from /proc/stat. */
export interface CpuTimes {
  busy: number;
  total: number;
  /** Time a hypervisor ran something else while this machine had work (in `busy`). */
  steal: number;
}

export function readCpuTimes(): CpuTimes {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user and nice.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as [
    number, number, number, number, number, number, number, number,
  ];
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait, steal };
}

/** Share of the machine's CPU time that was busy between `before` and `after` (now, by default). */
export function cpuBusySince(before: CpuTimes, after: CpuTimes = readCpuTimes()): number {
  const total = after.total - before.total;
  return total === 0 ? 0 : (after.busy - before.busy) / total;
}
