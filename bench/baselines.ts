import { spawn } from 'node:child_process';

/** A command line measured without Airlock: what a sandbox costs when spawned by hand. */
export interface Baseline {
  name: string;
  /** What the command measures, for the report. */
  description: string;
  command: string;
  args: string[];
  /** Host uid and gid to run as; the current user when absent. */
  user?: { uid: number; gid: number };
}

/** The flags of the raw cold sandbox: every namespace, the image as a read-only root, fresh /proc and /dev. */
function rawSandboxArguments(rootfs: string, command: string[]): string[] {
  return [
    '--unshare-all',
    '--unshare-user',
    '--die-with-parent',
    '--new-session',
    '--ro-bind', rootfs, '/',
    '--proc', '/proc',
    '--dev', '/dev',
    ...command,
  ];
}

/** Wall time of one run, from spawn until the process has exited and its output is closed. */
export function timeRun(baseline: Baseline): Promise<number> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(baseline.command, baseline.args, {
      cwd: '/',
      env: {},
      stdio: ['ignore', 'pipe', 'pipe'],
      ...baseline.user,
    });
    let errorOutput = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => (errorOutput += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const elapsed = performance.now() - startedAt;
      if (code === 0) resolve(elapsed);
      else reject(new Error(`baseline "${baseline.name}" exited with ${code}: ${errorOutput.trim()}`));
    });
  });
}

/** Runs a baseline `runs` times without measuring it: page cache, dentries and the dynamic loader get warm. */
export async function warmUp(baseline: Baseline, runs: number): Promise<void> {
  for (let run = 0; run < runs; run++) await timeRun(baseline);
}

/** Runs a baseline `warmup` times unmeasured, then `iterations` times one after another; returns each wall time. */
export async function measureSequential(
  baseline: Baseline,
  counts: { warmup: number; iterations: number },
): Promise<number[]> {
  await warmUp(baseline, counts.warmup);
  const samples: number[] = [];
  for (let run = 0; run < counts.iterations; run++) samples.push(await timeRun(baseline));
  return samples;
}

/** Runs a baseline in `workers` parallel loops for `seconds`; returns completed runs per second. */
export async function measureRate(baseline: Baseline, options: { workers: number; seconds: number }): Promise<number> {
  const startedAt = performance.now();
  const deadline = startedAt + options.seconds * 1000;
  let completed = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await timeRun(baseline);
      completed++;
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return completed / ((performance.now() - startedAt) / 1000);
}

/** The baselines this benchmark measures, keyed by how the report refers to them. */
export interface ColdBaselines {
  spawnTrue: Baseline;
  chrootPython: Baseline;
  chrootNode: Baseline;
  bubblewrapTrue: Baseline;
  bubblewrapPython: Baseline;
  bubblewrapNode: Baseline;
  /** DESIGN's CPU floor for throughput: python without site or user paths, no sandbox. */
  pythonFloor: Baseline;
}

export function coldBaselines(options: {
  rootfs: string;
  /** The image's interpreters, as its manifest names them. */
  interpreters: { python: string; node: string };
  bubblewrapPath: string;
  sandboxUser: { uid: number; gid: number };
}): ColdBaselines {
  const { rootfs, interpreters, bubblewrapPath, sandboxUser } = options;
  const chroot = (name: string, description: string, command: string[]): Baseline => ({
    name,
    description,
    command: '/usr/sbin/chroot',
    args: [rootfs, ...command],
  });
  const bubblewrap = (name: string, description: string, command: string[]): Baseline => ({
    name,
    description,
    command: bubblewrapPath,
    args: rawSandboxArguments(rootfs, command),
    user: sandboxUser,
  });
  return {
    spawnTrue: {
      name: 'spawn /bin/true',
      description: "node's own cost of starting a process from this process: fork, exec and exit of a program that does nothing",
      command: '/bin/true',
      args: [],
    },
    chrootPython: chroot(
      'chroot python3 -c pass',
      "the image's python started in a chroot as root: interpreter start-up with no namespaces",
      [interpreters.python, '-c', 'pass'],
    ),
    chrootNode: chroot(
      'chroot node -e 0',
      "the image's node started in a chroot as root: interpreter start-up with no namespaces",
      [interpreters.node, '-e', '0'],
    ),
    bubblewrapTrue: bubblewrap(
      'bwrap /bin/true',
      'bubblewrap alone: namespaces, read-only image root, /proc and /dev, then a program that does nothing',
      ['/bin/true'],
    ),
    bubblewrapPython: bubblewrap(
      "bwrap python3 -c 'print(1)'",
      'the raw cold sandbox for python: bubblewrap plus the interpreter, no seccomp, cgroups or Airlock',
      [interpreters.python, '-c', 'print(1)'],
    ),
    bubblewrapNode: bubblewrap(
      "bwrap node -e 'console.log(1)'",
      'the raw cold sandbox for node: bubblewrap plus the interpreter, no seccomp, cgroups or Airlock',
      [interpreters.node, '-e', 'console.log(1)'],
    ),
    pythonFloor: chroot(
      'chroot python3 -I -S -c pass',
      'the CPU floor: the cheapest python start-up, run in one loop per core',
      [interpreters.python, '-I', '-S', '-c', 'pass'],
    ),
  };
}
