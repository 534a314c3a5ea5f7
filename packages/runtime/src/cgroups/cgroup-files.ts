import { closeSync, openSync, promises as fs, readFileSync, write, writeFileSync } from 'node:fs';
import type { CgroupLimits } from './cgroup-types.js';

// Control files are kernel pseudo-files answered from memory: synchronous calls take microseconds, where each
// asynchronous one would cost four thread-pool round trips (open, stat, read, close) on the event loop.

export async function writeControl(path: string, value: string): Promise<void> {
  writeFileSync(path, value);
}

export async function readControl(path: string): Promise<string> {
  return readFileSync(path, 'utf8').trim();
}

export async function readOptionalControl(path: string): Promise<string | null> {
  try {
    return await readControl(path);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** Reads a "key value" file such as memory.stat, cpu.stat or memory.events. */
export async function readKeyedControl(path: string): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  const text = await readOptionalControl(path);
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.split(/\s+/);
    if (key && value !== undefined) values.set(key, Number(value));
  }
  return values;
}

export async function readPids(procsPath: string): Promise<number[]> {
  const text = await readOptionalControl(procsPath);
  return (text ?? '')
    .split('\n')
    .filter((line) => line.length > 0)
    .map(Number);
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** rmdir of a cgroup, retried briefly: the kernel releases an emptied cgroup asynchronously. */
export async function removeCgroupDirectory(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rmdir(path);
      return;
    } catch (error) {
      if (isMissing(error)) return;
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EBUSY' || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Removes a cgroup tree depth-first (cgroups can only be removed empty, leaves first). */
export async function removeCgroupTree(path: string, beforeRemove?: (path: string) => Promise<void>): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(path, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  for (const entry of entries) {
    if (entry.isDirectory()) await removeCgroupTree(`${path}/${entry.name}`, beforeRemove);
  }
  await beforeRemove?.(path);
  await removeCgroupDirectory(path);
}

/** The limits a slot's control files hold, as one comparable value. */
export function limitsKey(limits: CgroupLimits): string {
  return `${limits.cpus} ${limits.memoryBytes} ${limits.pids}`;
}

export const sleep = (milliseconds: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, milliseconds));

/**
 * Moves processes into a cgroup through its cgroup.procs files, kept open: a move is one thread-pool write per file,
 * all at once and off the event loop (on cgroup v1 a move waits for the forks and exits in flight on the whole host,
 * milliseconds under load).
 */
export class CgroupJoiner {
  readonly #files: readonly string[];
  #descriptors: number[] | undefined;

  constructor(files: readonly string[]) {
    this.#files = files;
  }

  async join(pid: number): Promise<void> {
    this.#descriptors ??= this.#files.map((file) => openSync(file, 'w'));
    const text = String(pid);
    await Promise.all(
      this.#descriptors.map(
        (descriptor) => new Promise<void>((resolve, reject) => write(descriptor, text, (error) => (error ? reject(error) : resolve()))),
      ),
    );
  }

  close(): void {
    for (const descriptor of this.#descriptors ?? []) closeSync(descriptor);
    this.#descriptors = undefined;
  }
}
