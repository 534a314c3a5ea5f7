import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** A file the spawned program gets as fd 1, 2, ...: opened read-only (`r`) or write-only (`w`). */
export interface SpawnFile {
  mode: 'r' | 'w';
  path: string;
}

export interface SpawnRequest {
  uid: number;
  gid: number;
  /** Become fds 1..N of the program, in order; fd 0 is /dev/null. */
  files: SpawnFile[];
  /** A network namespace (`/run/netns/airlock-*`) the program runs in, instead of the spawner's. */
  networkNamespace?: string;
  /** cgroup.procs files the program joins before it runs. */
  cgroupProcsFiles: string[];
  /** argv; the first entry is the program's absolute path. */
  argv: string[];
}

export interface SpawnedProcess {
  pid: number;
  /** Exit code, or 128 + the signal that ended it; null when the spawner itself went away. */
  exited: Promise<number | null>;
}

export class SpawnError extends Error {
  override readonly name = 'SpawnError';
}

const EVENT_BYTES = 16;
const EVENT_STARTED = 1;
const EVENT_EXITED = 2;
const EVENT_FAILED = 3;
const EVENT_DONE = 4;

const OPERATION_SPAWN = 1;
const OPERATION_MOUNT = 2;
const OPERATION_UNMOUNT = 3;
const OPERATION_COMMAND = 4;
const OPERATION_BIND = 5;
const BIND_READ_ONLY = 1;
const BIND_CREATE = 2;

/** The file systems the spawner mounts: a size-capped tmpfs, or an overlay of layers. */
export type MountType = 'tmpfs' | 'overlay';
const MOUNT_TYPES: Record<MountType, number> = { tmpfs: 1, overlay: 2 };

interface Pending {
  /** Until the request is answered (started, done or failed). */
  answer?: { resolve: (value: number) => void; reject: (error: Error) => void };
  resolveExit?: (code: number | null) => void;
}

/**
 * The server side of native/sandbox-spawner.c: one resident root process that forks, joins cgroups, drops
 * privileges and execs each sandbox, so the server never forks itself per sandbox. Started on first use and again
 * if it ever exits; when it exits, every process it started is killed with it.
 */
export class Spawner {
  readonly #path: string;
  readonly #mountRoot: string;
  #process: ChildProcessByStdio<Writable, Readable, null> | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #buffered: Buffer = Buffer.alloc(0);
  #closed = false;

  /** `mountRoot`: the only directory below which the spawner mounts and unmounts. */
  constructor(spawnerPath: string, mountRoot: string) {
    this.#path = spawnerPath;
    this.#mountRoot = mountRoot;
  }

  /** The spawner's process id while it runs. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Starts `request.argv` once its files are open; rejects if they cannot be opened or the fork fails. */
  async spawn(request: SpawnRequest): Promise<SpawnedProcess> {
    const files = [
      ...request.files.map((file) => `${file.mode}${file.path}`),
      ...(request.networkNamespace === undefined ? [] : [`n${request.networkNamespace}`]),
    ];
    const strings = [...files, ...request.cgroupProcsFiles, ...request.argv];
    const fields = [request.uid, request.gid, files.length, request.cgroupProcsFiles.length, request.argv.length];
    let resolveExit: (code: number | null) => void = () => undefined;
    const exited = new Promise<number | null>((resolve) => (resolveExit = resolve));
    const pid = await this.#request(OPERATION_SPAWN, fields, strings, resolveExit);
    return { pid, exited };
  }

  /**
   * Runs one of the network tools the spawner allows (`/usr/sbin/ip`, `/usr/sbin/tc`, `/usr/sbin/conntrack`) as root,
   * its stdout and stderr written to the file `output` (which must exist); resolves with its exit code once it ends.
   */
  async command(argv: string[], output: string): Promise<number | null> {
    const strings = [`w${output}`, `w${output}`, ...argv];
    let resolveExit: (code: number | null) => void = () => undefined;
    const exited = new Promise<number | null>((resolve) => (resolveExit = resolve));
    await this.#request(OPERATION_COMMAND, [0, 0, 2, 0, argv.length], strings, resolveExit);
    return exited;
  }

  /** Mounts a file system of `type` with mount `data` (nosuid, nodev) on `target`, a directory below the mount root. */
  async mount(type: MountType, target: string, data: string): Promise<void> {
    await this.#request(OPERATION_MOUNT, [MOUNT_TYPES[type]], [target, data]);
  }

  /**
   * Binds the directory `path` below `root` on `target`, a directory below the mount root: `path` ("" for the root,
   * else segments separated by "/") is resolved with no symbolic link followed and never above `root`, so links a
   * sandbox planted there lead nowhere. `readOnly` binds it read-only before it is attached, so the copies that
   * propagate to sandboxes are read-only too; `create` makes missing directories of `path`, owned by its uid and gid.
   */
  async bind(root: string, path: string, target: string, options: { readOnly: boolean; create?: { uid: number; gid: number } }): Promise<void> {
    const flags = (options.readOnly ? BIND_READ_ONLY : 0) | (options.create ? BIND_CREATE : 0);
    await this.#request(OPERATION_BIND, [flags, options.create?.uid ?? 0, options.create?.gid ?? 0], [root, path, target]);
  }

  /** Detaches the mount on `target`, a directory below the mount root. */
  async unmount(target: string): Promise<void> {
    await this.#request(OPERATION_UNMOUNT, [], [target]);
  }

  #request(
    operation: number,
    fields: number[],
    strings: string[],
    resolveExit?: (code: number | null) => void,
  ): Promise<number> {
    if (this.#closed) return Promise.reject(new SpawnError('the spawner is closed'));
    for (const value of strings) {
      if (value.includes('\0')) return Promise.reject(new SpawnError('spawner requests cannot contain NUL bytes'));
    }
    const id = this.#nextId++;
    const body = Buffer.from(strings.map((value) => `${value}\0`).join(''));
    const header = Buffer.alloc(12 + 4 * fields.length);
    header.writeUInt32LE(header.length - 4 + body.length, 0);
    header.writeUInt32LE(id, 4);
    header.writeUInt32LE(operation, 8);
    fields.forEach((value, index) => header.writeUInt32LE(value, 12 + 4 * index));
    const child = this.#ensureStarted();
    const answered = new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { answer: { resolve, reject }, resolveExit });
    });
    child.stdin.write(Buffer.concat([header, body]));
    return answered;
  }

  /** Stops the spawner; processes it started that still run are killed with it. */
  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#process;
    if (!child) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    await gone;
  }

  #ensureStarted(): ChildProcessByStdio<Writable, Readable, null> {
    if (this.#process) return this.#process;
    const child = spawn(this.#path, [this.#mountRoot], { cwd: '/', env: {}, stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.on('error', () => undefined); // reported through 'exit'
    child.stdout.on('data', (chunk: Buffer) => this.#receive(chunk));
    const onGone = (reason: string): void => {
      if (this.#process !== child) return;
      this.#process = undefined;
      this.#buffered = Buffer.alloc(0);
      const pending = this.#pending;
      this.#pending = new Map();
      for (const entry of pending.values()) {
        entry.answer?.reject(new SpawnError(`the sandbox spawner ${reason}`));
        entry.resolveExit?.(null);
      }
    };
    child.on('error', (error) => onGone(`could not run: ${error.message}`));
    child.on('exit', (code, signal) => onGone(`exited (${signal ?? code})`));
    this.#process = child;
    return child;
  }

  #receive(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    let offset = 0;
    for (; offset + EVENT_BYTES <= this.#buffered.length; offset += EVENT_BYTES) {
      const id = this.#buffered.readUInt32LE(offset);
      const kind = this.#buffered.readUInt32LE(offset + 4);
      const value = this.#buffered.readInt32LE(offset + 8);
      const entry = this.#pending.get(id);
      if (!entry) continue;
      if (kind === EVENT_STARTED) {
        entry.answer?.resolve(value);
        entry.answer = undefined;
      } else if (kind === EVENT_DONE) {
        this.#pending.delete(id);
        entry.answer?.resolve(value);
      } else if (kind === EVENT_EXITED) {
        this.#pending.delete(id);
        entry.resolveExit?.(value);
      } else if (kind === EVENT_FAILED) {
        this.#pending.delete(id);
        entry.answer?.reject(new SpawnError(`the spawner's request failed (errno ${value})`));
        entry.resolveExit?.(null);
      }
    }
    this.#buffered = this.#buffered.subarray(offset);
  }
}
