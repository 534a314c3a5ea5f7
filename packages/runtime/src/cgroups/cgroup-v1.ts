import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { CgroupHierarchy, CgroupLimits, CgroupSlot, CgroupUsage } from './cgroup-types.js';
import {
  readControl,
  readKeyedControl,
  readOptionalControl,
  readPids,
  removeCgroupDirectory,
  removeCgroupTree,
  sleep,
  writeControl,
  limitsKey,
  CgroupJoiner,
} from './cgroup-files.js';

export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

const CPU_PERIOD_MICROSECONDS = 100_000;

/** cgroup v1: one directory per controller hierarchy, frozen with the freezer to kill a process tree atomically. */
export class CgroupV1Hierarchy implements CgroupHierarchy {
  readonly version = 1 as const;
  /** Parent directory of this instance's slots, per controller. */
  readonly #parents: Record<V1Controller, string>;

  constructor(options: { mounts: Record<V1Controller, string>; ownPaths: Record<V1Controller, string>; name: string }) {
    const parents = {} as Record<V1Controller, string>;
    for (const controller of V1_CONTROLLERS) {
      parents[controller] = join(options.mounts[controller], options.ownPaths[controller], options.name);
    }
    this.#parents = parents;
  }

  async initialize(): Promise<void> {
    await this.destroy();
    for (const controller of uniqueDirectories(this.#parents)) await fs.mkdir(controller, { recursive: true });
  }

  async createSlot(name: string): Promise<CgroupSlot> {
    const directories = {} as Record<V1Controller, string>;
    for (const controller of V1_CONTROLLERS) {
      directories[controller] = join(this.#parents[controller], name);
      await fs.mkdir(directories[controller], { recursive: true });
    }
    return new CgroupV1Slot(name, directories);
  }

  async destroy(): Promise<void> {
    const freezerParent = this.#parents.freezer;
    await removeCgroupTree(freezerParent, async (path) => {
      if (path !== freezerParent) await killV1(path);
    });
    for (const directory of uniqueDirectories(this.#parents)) {
      if (directory !== freezerParent) await removeCgroupTree(directory);
    }
  }
}

class CgroupV1Slot implements CgroupSlot {
  readonly procsFiles: readonly string[];
  readonly #joiner: CgroupJoiner;
  #oomKillsAtPrepare = 0;
  /** The limits the slot's control files hold (limitsKey), once written in full. */
  #appliedLimits: string | undefined;

  constructor(
    readonly name: string,
    private readonly directories: Record<V1Controller, string>,
  ) {
    this.procsFiles = uniqueDirectories(directories).map((directory) => join(directory, 'cgroup.procs'));
    this.#joiner = new CgroupJoiner(this.procsFiles);
  }

  async prepare(limits: CgroupLimits): Promise<void> {
    const { cpu, cpuacct, memory, pids } = this.directories;
    // Only this slot's owner writes its limits: a lease with the previous lease's limits leaves them as they are.
    const applied = limitsKey(limits);
    if (this.#appliedLimits !== applied) {
      this.#appliedLimits = undefined;
      await writeControl(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_MICROSECONDS));
      await writeControl(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * CPU_PERIOD_MICROSECONDS)));
      const swapLimit = join(memory, 'memory.memsw.limit_in_bytes');
      const hasSwapLimit = (await readOptionalControl(swapLimit)) !== null;
      // memory+swap must never be below memory: lift it, set memory, then pin memory+swap to the same value.
      if (hasSwapLimit) await writeControl(swapLimit, '-1');
      await writeControl(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      if (hasSwapLimit) await writeControl(swapLimit, String(limits.memoryBytes));
      await writeControl(join(pids, 'pids.max'), String(limits.pids));
      this.#appliedLimits = applied;
    }
    await writeControl(join(memory, 'memory.max_usage_in_bytes'), '0');
    await writeControl(join(cpuacct, 'cpuacct.usage'), '0');
    this.#oomKillsAtPrepare = await this.#oomKills();
  }

  async usage(): Promise<CgroupUsage> {
    const peak = await readOptionalControl(join(this.directories.memory, 'memory.max_usage_in_bytes'));
    const cpuNanoseconds = await readOptionalControl(join(this.directories.cpuacct, 'cpuacct.usage'));
    return {
      peakMemoryBytes: peak === null ? null : Number(peak),
      cpuTimeMs: cpuNanoseconds === null ? null : Number(cpuNanoseconds) / 1e6,
      oomKilled: (await this.#oomKills()) > this.#oomKillsAtPrepare,
    };
  }

  join(pid: number): Promise<void> {
    return this.#joiner.join(pid);
  }

  /**
   * Kills every member through the freezer hierarchy and waits until it is empty. A process leaves the cgroups of
   * every hierarchy at once when it exits (they share one css_set), and the slot's processes never move between
   * them, so the freezer's membership is every hierarchy's.
   */
  async killAll(): Promise<void> {
    await killV1(this.directories.freezer);
  }

  async remove(): Promise<void> {
    this.#joiner.close();
    await this.killAll();
    for (const directory of uniqueDirectories(this.directories)) await removeCgroupDirectory(directory);
  }

  async #oomKills(): Promise<number> {
    const control = await readKeyedControl(join(this.directories.memory, 'memory.oom_control'));
    return control.get('oom_kill') ?? 0;
  }
}

/** Freezes the cgroup so nothing can fork while it is being emptied, SIGKILLs every member, then thaws it. */
async function killV1(freezerDirectory: string): Promise<void> {
  const state = join(freezerDirectory, 'freezer.state');
  if ((await readPids(join(freezerDirectory, 'cgroup.procs'))).length === 0) return;
  await writeControl(state, 'FROZEN');
  for (let attempt = 0; attempt < 200 && (await readControl(state)) !== 'FROZEN'; attempt++) await sleep(1);
  for (const pid of await readPids(join(freezerDirectory, 'cgroup.procs'))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await writeControl(state, 'THAWED');
  await waitUntilEmpty(freezerDirectory);
}

async function waitUntilEmpty(directory: string): Promise<void> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    if ((await readPids(join(directory, 'cgroup.procs'))).length === 0) return;
    await sleep(attempt < 20 ? 1 : 10);
  }
  throw new Error(`cgroup ${directory} still has processes after SIGKILL`);
}

function uniqueDirectories(directories: Record<V1Controller, string>): string[] {
  return [...new Set(Object.values(directories))];
}
