/** Resource limits applied to one sandbox's cgroup. */
export interface CgroupLimits {
  /** CPU quota in cores (0.5-4). */
  cpus: number;
  memoryBytes: number;
  pids: number;
}

/** Accounting read back after a run. */
export interface CgroupUsage {
  peakMemoryBytes: number | null;
  cpuTimeMs: number | null;
  /** The kernel's OOM killer killed a process in this cgroup during the lease. */
  oomKilled: boolean;
}

/** One reusable cgroup (a directory per hierarchy on v1, one directory on v2). */
export interface CgroupSlot {
  readonly name: string;
  /** The cgroup.procs files a process writes itself into to join this cgroup. */
  readonly procsFiles: readonly string[];
  /** Moves a running process (by host pid) into this cgroup. */
  join(pid: number): Promise<void>;
  /** Applies limits and zeroes the accounting for a new lease. */
  prepare(limits: CgroupLimits): Promise<void>;
  usage(): Promise<CgroupUsage>;
  /** Kills every process in the cgroup and waits until it is empty. */
  killAll(): Promise<void>;
  remove(): Promise<void>;
}

export interface CgroupHierarchy {
  readonly version: 1 | 2;
  /** Creates the per-instance parent cgroup, removing what a crashed earlier run left behind. */
  initialize(): Promise<void>;
  createSlot(name: string): Promise<CgroupSlot>;
  /** Kills what is left in every slot and removes the parent. */
  destroy(): Promise<void>;
}
