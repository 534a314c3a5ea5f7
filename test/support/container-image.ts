import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repository = fileURLToPath(new URL('../..', import.meta.url));

/** The parts of an OCI image configuration the image's users rely on. */
export interface ImageConfiguration {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Labels?: Record<string, string>;
}

function run(command: string, args: string[], timeoutMs = 60_000): string {
  const result = spawnSync(command, args, { cwd: repository, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 2 ** 20 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}:\n${result.stderr}`);
  return result.stdout;
}

/**
 * deploy/container/build.sh on this checkout as the suite's set-up built it: the image's name and how long the call
 * took (seconds when its tag is in buildah's store already, minutes when it is built). Asynchronous: a build takes
 * minutes, and the test worker must keep answering vitest meanwhile.
 */
export async function buildServerImage(): Promise<{ image: string; seconds: number }> {
  const started = Date.now();
  const build = spawn('bash', ['deploy/container/build.sh', '--no-build'], { cwd: repository, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  build.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  build.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(build, 'close')) as [number | null];
  if (code !== 0) throw new Error(`deploy/container/build.sh exited with ${code}:\n${stderr}`);
  return { image: stdout.trim().split('\n').at(-1) ?? '', seconds: (Date.now() - started) / 1000 };
}

export function imageConfiguration(image: string): ImageConfiguration {
  return (JSON.parse(run('buildah', ['inspect', '--type', 'image', image])) as { OCIv1: { config: ImageConfiguration } }).OCIv1.config;
}

/** The image's unpacked size in containers-storage, in bytes. */
export function imageSizeBytes(image: string): number {
  return Number(run('podman', ['image', 'inspect', '--format', '{{.Size}}', image]).trim());
}

/** Runs `inspect` on the image's root file system, mounted through a buildah working container removed afterwards. */
export async function withImageRoot<T>(image: string, inspect: (root: string) => T | Promise<T>): Promise<T> {
  const container = run('buildah', ['from', '--pull-never', '--quiet', image]).trim();
  try {
    return await inspect(run('buildah', ['mount', container]).trim());
  } finally {
    run('buildah', ['rm', container]);
  }
}

/**
 * `--ulimit` flags within what podman may set on this machine. podman's defaults for a root container (1048576 open
 * files and processes) are above the hard limits of this project's CI machines, which lack CAP_SYS_RESOURCE to raise
 * them; podman itself then runs with at most 32768 processes, and a container cannot be given more than it has.
 */
export function containerUlimits(): string[] {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name: string): number => Number(new RegExp(`^${name}\\s+\\S+\\s+(\\d+)`, 'm').exec(limits)?.[1] ?? Infinity);
  const openFiles = Math.min(hard('Max open files'), 1_048_576);
  const processes = Math.min(hard('Max processes'), 32_768);
  return ['--ulimit', `nofile=${openFiles}:${openFiles}`, '--ulimit', `nproc=${processes}:${processes}`];
}
