import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { CgroupHierarchy, CgroupLimits, CgroupSlot, CgroupUsage } from './cgroup-types.js';
import {
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

const CPU_PERIOD_MICROSECONDS = 100_000;
const CONTROLLERS = '+cpu +memory +pids';

/**
 * cgroup v2 (unified). Controllers can only be enabled for children of a cgroup without processes of its own, so when
 * the server sits in the cgroup it was given (a systemd unit with Delegate=yes, or a container's namespace root), it
 * first moves itself into a `supervisor` leaf.
 */
export class CgroupV2Hierarchy implements CgroupHierarchy {
  readonly version = 2 as const;
  readonly #base: string;
  readonly #parent: string;

  constructor(options: { mount: string; ownPath: string; name: string }) {
    this.#base = join(options.mount, options.ownPath);
    this.#parent = join(this.#base, options.name);
  }

  async initialize(): Promise<void> {
    await this.destroy();
    await this.#enableControllers(this.#base);
    await fs.mkdir(this.#parent, { recursive: true });
    await writeControl(join(this.#parent, 'cgroup.subtree_control'), CONTROLLERS);
  }

  async createSlot(name: string): Promise<CgroupSlot> {
    const directory = join(this.#parent, name);
    await fs.mkdir(directory, { recursive: true });
    return new CgroupV2Slot(name, directory);
  }

  async destroy(): Promise<void> {
    const parent = this.#parent;
    await removeCgroupTree(parent, async (path) => {
      if (path !== parent) await killV2(path);
    });
  }

  async #enableControllers(directory: string): Promise<void> {
    const subtree = join(directory, 'cgroup.subtree_control');
    try {
      await writeControl(subtree, CONTROLLERS);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') throw error;
      const supervisor = join(directory, 'supervisor');
      await fs.mkdir(supervisor, { recursive: true });
      for (const pid of await readPids(join(directory, 'cgroup.procs'))) {
        await writeControl(join(supervisor, 'cgroup.procs'), String(pid)).catch(() => undefined);
      }
      await writeControl(subtree, CONTROLLERS);
    }
  }
}

class CgroupV2Slot implements CgroupSlot {
  readonly procsFiles: readonly string[];
  readonly #joiner: CgroupJoiner;
  #cpuMicrosecondsAtPrepare = 0;
  #oomKillsAtPrepare = 0;
  /** The limits the slot's control files hold (limitsKey), once written in full. */
  #appliedLimits: string | undefined;
  #peakHandle: fs.FileHandle | undefined;
  #peakResettable = true;

  constructor(
    readonly name: string,
    private readonly directory: string,
  ) {
    this.procsFiles = [join(directory, 'cgroup.procs')];
    this.#joiner = new CgroupJoiner(this.procsFiles);
  }

  async prepare(limits: CgroupLimits): Promise<void> {
    const { directory } = this;
    // Only this slot's owner writes its limits: a lease with the previous lease's limits leaves them as they are.
    const applied = limitsKey(limits);
    if (this.#appliedLimits !== applied) {
      this.#appliedLimits = undefined;
      await writeControl(join(directory, 'cpu.max'), `${Math.round(limits.cpus * CPU_PERIOD_MICROSECONDS)} ${CPU_PERIOD_MICROSECONDS}`);
      await writeControl(join(directory, 'memory.max'), String(limits.memoryBytes));
      if ((await readOptionalControl(join(directory, 'memory.swap.max'))) !== null) {
        await writeControl(join(directory, 'memory.swap.max'), '0');
      }
      await writeControl(join(directory, 'pids.max'), String(limits.pids));
      this.#appliedLimits = applied;
    }
    await this.#resetPeak();
    this.#cpuMicrosecondsAtPrepare = (await readKeyedControl(join(directory, 'cpu.stat'))).get('usage_usec') ?? 0;
    this.#oomKillsAtPrepare = (await readKeyedControl(join(directory, 'memory.events'))).get('oom_kill') ?? 0;
  }

  async usage(): Promise<CgroupUsage> {
    const cpuMicroseconds = (await readKeyedControl(join(this.directory, 'cpu.stat'))).get('usage_usec');
    const oomKills = (await readKeyedControl(join(this.directory, 'memory.events'))).get('oom_kill') ?? 0;
    return {
      peakMemoryBytes: await this.#readPeak(),
      cpuTimeMs: cpuMicroseconds === undefined ? null : (cpuMicroseconds - this.#cpuMicrosecondsAtPrepare) / 1000,
      oomKilled: oomKills > this.#oomKillsAtPrepare,
    };
  }

  join(pid: number): Promise<void> {
    return this.#joiner.join(pid);
  }

  async killAll(): Promise<void> {
    await killV2(this.directory);
  }

  async remove(): Promise<void> {
    this.#joiner.close();
    await this.killAll();
    await this.#peakHandle?.close();
    this.#peakHandle = undefined;
    await removeCgroupDirectory(this.directory);
  }

  /** memory.peak is reset per open file (Linux 6.12+); older kernels only report the peak since creation. */
  async #resetPeak(): Promise<void> {
    if (!this.#peakResettable) return;
    try {
      this.#peakHandle ??= await fs.open(join(this.directory, 'memory.peak'), 'r+');
      await this.#peakHandle.write('reset\n', 0);
    } catch {
      this.#peakResettable = false;
      await this.#peakHandle?.close().catch(() => undefined);
      this.#peakHandle = undefined;
    }
  }

  async #readPeak(): Promise<number | null> {
    if (this.#peakHandle) {
      const buffer = Buffer.alloc(32);
      const { bytesRead } = await this.#peakHandle.read(buffer, 0, buffer.length, 0);
      return Number(buffer.subarray(0, bytesRead).toString().trim());
    }
    const peak = await readOptionalControl(join(this.directory, 'memory.peak'));
    return peak === null ? null : Number(peak);
  }
}

async function killV2(directory: string): Promise<void> {
  const procs = join(directory, 'cgroup.procs');
  if ((await readPids(procs)).length === 0) return;
  const killFile = join(directory, 'cgroup.kill');
  if ((await readOptionalControl(killFile)) !== null || (await fileExists(killFile))) {
    await writeControl(killFile, '1');
  } else {
    await writeControl(join(directory, 'cgroup.freeze'), '1');
    for (const pid of await readPids(procs)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await writeControl(join(directory, 'cgroup.freeze'), '0');
  }
  for (let attempt = 0; attempt < 1000; attempt++) {
    if ((await readPids(procs)).length === 0) return;
    await sleep(attempt < 20 ? 1 : 10);
  }
  throw new Error(`cgroup ${directory} still has processes after cgroup.kill`);
}

async function fileExists(path: string): Promise<boolean> {
  return fs.access(path).then(
    () => true,
    () => false,
  );
}
