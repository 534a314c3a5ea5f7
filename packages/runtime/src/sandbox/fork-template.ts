import { closeSync, readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import type { CgroupSlot } from '../cgroups/cgroup-types.js';
import { SANDBOX_ENVIRONMENT, stubFiles, type BubblewrapLaunch } from './bubblewrap-driver.js';
import type { PipeFactory, SandboxPipe, StubPipes } from './pipe-factory.js';
import { SANDBOX_HOME, SANDBOX_HOST_SOCKETS, SANDBOX_UID_INSIDE, SandboxStartError } from './sandbox-types.js';
import { forkTemplateCommand } from './stubs.js';

export interface ForkTemplateOptions extends BubblewrapLaunch {
  /** Pipes in a directory the template opens by name (mode 0711), seen in it at FORK_PIPES. */
  pipes: PipeFactory;
  /** The image's root as sandboxes bind it, and its python. */
  rootfs: string;
  interpreter: string;
  /** Modules imported before the first fork; those missing from the image are reported, not fatal. */
  preload: readonly string[];
  /** HomeMounts.root: the shared mount below which homes are made, seen in the template at FORK_MOUNTS. */
  mountRoot: string;
  /** How long importing the preloaded modules may take. */
  startTimeoutMs?: number;
  /** The template's own seccomp program (bubblewrap applies it); its forks apply `seccompProgramPath` on top. */
  templateSeccompProgramPath: string;
  /** The namespace maker's executable (native/fork-namespaces.c), open on fd 8 of the template. */
  namespaceMakerPath: string;
}

/** One execution's fork: the host pid of its interpreter, and the interpreter's exit code. */
export interface ForkedProcess {
  pid: number;
  /** Exit code of the interpreter, or 128 + the signal that ended it; null when the template went away. */
  exited: Promise<number | null>;
}

const FORK_PIPES = '/run/airlock-fork/pipes';
const FORK_MOUNTS = '/run/airlock-fork/mounts';
// fds of the template: 3 requests, 4 reports, 5 the forks' seccomp program (read by the template), 6 bubblewrap's
// options, 7 the template's own seccomp program (read by bubblewrap), 8 the namespace maker's executable.
const ARGUMENTS_FD = 6;
const TEMPLATE_SECCOMP_FD = 7;
/** The template's own zones: its imports may write caches to its home (matplotlib's font list). */
const TEMPLATE_HOME_BYTES = 64 * 1024 * 1024;
const TEMPLATE_TMP_BYTES = 16 * 1024 * 1024;
/**
 * The template, its namespace maker and the forks' pid 1s, plus each interpreter until the server moves it into its
 * execution's cgroup.
 */
const TEMPLATE_LIMITS = { cpus: 1, memoryBytes: 2 * 1024 * 1024 * 1024, pids: 4096 };

/**
 * A python interpreter that has imported the preloaded modules, in a sandbox of its own, and forks one interpreter
 * per execution in fresh namespaces (stubs/python-fork-template.py; docs/decisions/0033-fork-tier.md). It runs no
 * user code and holds no secrets: forks get their request, like any sandbox, on their own pipes.
 */
export class ForkTemplate {
  readonly #options: ForkTemplateOptions;
  readonly #slot: CgroupSlot;
  readonly #requests: Socket;
  readonly #reports: Socket;
  readonly #log: Socket[];
  readonly #exited: Promise<number | null>;
  /** The template's host pid. */
  #pid = 0;
  #counter = 0;
  #buffered = '';
  #closed = false;
  #logText = '';
  readonly #forks = new Map<string, { resolve: (pids: { pid1: number; pid: number }) => void; reject: (error: Error) => void }>();
  readonly #exits = new Map<string, (code: number | null) => void>();
  #ready: { resolve: (failed: string) => void; reject: (error: Error) => void } | undefined;

  private constructor(options: ForkTemplateOptions, parts: { slot: CgroupSlot; requests: Socket; reports: Socket; log: Socket[]; exited: Promise<number | null> }) {
    this.#options = options;
    this.#slot = parts.slot;
    this.#requests = parts.requests;
    this.#reports = parts.reports;
    this.#log = parts.log;
    this.#exited = parts.exited;
    this.#requests.on('error', () => undefined);
    this.#reports.on('data', (chunk: Buffer) => this.#receive(chunk.toString('latin1')));
    for (const socket of this.#log) {
      socket.on('data', (chunk: Buffer) => {
        if (this.#logText.length < 8192) this.#logText += chunk.toString();
      });
    }
    void this.#exited.then((code) => this.#gone(`the fork template exited (${code})${this.#logText ? `: ${this.#logText.trim()}` : ''}`));
  }

  /** Starts a template and waits until it has imported its modules; `unavailable` lists those the image lacks. */
  static async start(options: ForkTemplateOptions): Promise<{ template: ForkTemplate; unavailable: string[] }> {
    const slot = await options.cgroups.lease(TEMPLATE_LIMITS);
    const pipes: SandboxPipe[] = [];
    try {
      const stubPipes = await options.pipes.stubPipes(pipes);
      const [stdout, stderr, requests, reports] = stubPipes;
      const argumentFile = options.pipes.argumentFile(templateArguments(options));
      let spawned;
      try {
        spawned = await options.spawner.spawn({
          uid: options.hostUid,
          gid: options.hostGid,
          files: [
            ...stubFiles(stubPipes, options.seccompProgramPath, argumentFile.path),
            { mode: 'r', path: options.templateSeccompProgramPath },
            { mode: 'r', path: options.namespaceMakerPath },
          ],
          cgroupProcsFiles: [...slot.procsFiles],
          argv: [options.bwrapPath, '--args', String(ARGUMENTS_FD), '--', ...forkTemplateCommand(options.interpreter)],
        });
      } finally {
        for (const pipe of [...pipes, argumentFile]) options.pipes.unlink(pipe);
      }
      const socket = (pipe: SandboxPipe, writable: boolean): Socket => new Socket({ fd: pipe.hostFd, readable: !writable, writable });
      const template = new ForkTemplate(options, {
        slot,
        requests: socket(requests, true),
        reports: socket(reports, false),
        log: [socket(stdout, false), socket(stderr, false)],
        exited: spawned.exited,
      });
      pipes.length = 0;
      const unavailable = await template.#waitReady(spawned.pid);
      return { template, unavailable };
    } catch (error) {
      for (const pipe of pipes) closeSync(pipe.hostFd);
      await slot.killAll().catch(() => undefined);
      await options.cgroups.release(slot);
      throw error;
    }
  }

  get isAlive(): boolean {
    return !this.#closed;
  }

  /**
   * Forks one execution: its pid 1 with its zones (home and data: host directories below the mount root, already
   * mounted), then its interpreter, which opens the four pipes (stdout, stderr, request, events) and waits. The
   * interpreter is moved into `slot`; it goes on once the caller writes "G" on its request pipe.
   */
  async fork(request: { home: string; data: string; tmpBytes: number; pipes: StubPipes; slot: CgroupSlot }): Promise<ForkedProcess> {
    if (this.#closed) throw new SandboxStartError('the fork template is closed');
    const name = `f${this.#counter++}`;
    const exited = new Promise<number | null>((resolve) => this.#exits.set(name, resolve));
    const pids = new Promise<{ pid1: number; pid: number }>((resolve, reject) => this.#forks.set(name, { resolve, reject }));
    const relative = (path: string): string => {
      if (!path.startsWith(`${this.#options.mountRoot}/`)) throw new Error(`${path} is not below the mount root`);
      return path.slice(this.#options.mountRoot.length + 1);
    };
    const names = request.pipes.map((pipe) => pipe.path.slice(pipe.path.lastIndexOf('/') + 1));
    this.#requests.write(`${name} ${relative(this.#options.rootfs)} ${relative(request.home)} ${relative(request.data)} ${request.tmpBytes} ${names.join(' ')}\n`);
    let forked: { pid1: number; pid: number };
    try {
      forked = await pids;
    } catch (error) {
      this.#exits.delete(name);
      throw error;
    }
    // The template's newest child. pid 1, which holds the namespaces and lets the kernel reap orphans, stays in the
    // template's cgroup; everything the code starts descends from the interpreter, in the execution's.
    const pid = interpreterHostPid(this.#pid, forked.pid);
    if (pid === undefined) {
      this.#requests.write(`K ${name}\n`);
      throw new SandboxStartError('a forked execution was not found among the template\'s processes');
    }
    try {
      await request.slot.join(pid);
    } catch (error) {
      killQuietly(pid);
      throw error;
    }
    return { pid, exited };
  }

  /** Stops the template (forks already made run on until their execution ends or is killed). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#requests.end();
    await this.#slot.killAll().catch(() => undefined);
    await this.#exited;
    for (const socket of [this.#reports, ...this.#log]) socket.destroy();
    await this.#options.cgroups.release(this.#slot);
  }

  async #waitReady(bubblewrapPid: number): Promise<string[]> {
    const timeoutMs = this.#options.startTimeoutMs ?? 120_000;
    const failed = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SandboxStartError(`the fork template did not start within ${timeoutMs} ms`)), timeoutMs);
      this.#ready = {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#requests.write(`${this.#options.preload.join(' ')}\n`);
    }).catch(async (error: unknown) => {
      await this.close();
      throw error;
    });
    // bubblewrap's monitor, its pid 1, then the template (pid 2 of its namespace).
    const template = descendants(bubblewrapPid).find((pid) => namespacePids(pid).at(-1) === 2);
    if (template === undefined) {
      await this.close();
      throw new SandboxStartError('the fork template\'s processes were not found');
    }
    this.#pid = template;
    return failed.split(' ').filter(Boolean);
  }

  #receive(text: string): void {
    this.#buffered += text;
    const lines = this.#buffered.split('\n');
    this.#buffered = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, name = '', ...rest] = line.split(' ');
      if (kind === 'R') {
        this.#ready?.resolve([name, ...rest].join(' '));
        this.#ready = undefined;
      } else if (kind === 'F') {
        this.#forks.get(name)?.resolve({ pid1: Number(rest[0]), pid: Number(rest[1]) });
        this.#forks.delete(name);
      } else if (kind === 'E') {
        this.#forks.get(name)?.reject(new SandboxStartError(`the fork template could not make a sandbox: ${rest.join(' ')}`));
        this.#forks.delete(name);
      } else if (kind === 'X') {
        this.#exits.get(name)?.(Number(rest[0]));
        this.#exits.delete(name);
      }
    }
  }

  #gone(reason: string): void {
    this.#closed = true;
    this.#ready?.reject(new SandboxStartError(reason));
    this.#ready = undefined;
    for (const fork of this.#forks.values()) fork.reject(new SandboxStartError(reason));
    this.#forks.clear();
    for (const resolve of this.#exits.values()) resolve(null);
    this.#exits.clear();
    this.#requests.destroy();
  }
}

/** bubblewrap's options for a template: a sandbox like any other, but keeping the capabilities its forks need. */
function templateArguments(options: ForkTemplateOptions): string[] {
  return [
    '--unshare-all',
    // One user namespace, which owns the template's mount namespace, so its forks' copies of it are not locked; its
    // pid 1s set max_user_namespaces to 0 in it instead of --disable-userns (and seccomp denies making one anyway).
    '--unshare-user',
    '--die-with-parent',
    '--new-session',
    '--uid', String(SANDBOX_UID_INSIDE),
    '--gid', String(SANDBOX_UID_INSIDE),
    '--hostname', 'sandbox',
    '--ro-bind', options.rootfs, '/',
    '--proc', '/proc',
    '--dev', '/dev',
    '--perms', '1777', '--size', String(TEMPLATE_TMP_BYTES), '--tmpfs', '/dev/shm',
    '--perms', '1777', '--size', String(TEMPLATE_TMP_BYTES), '--tmpfs', '/tmp',
    '--perms', '1777', '--size', String(TEMPLATE_HOME_BYTES), '--tmpfs', SANDBOX_HOME,
    '--perms', '0755', '--size', '65536', '--tmpfs', '/data',
    '--perms', '0755', '--size', String(4 * 1024 * 1024), '--tmpfs', '/run',
    '--dir', '/run/airlock',
    '--ro-bind', options.hostSocketsDirectory, SANDBOX_HOST_SOCKETS,
    '--dir', '/run/airlock-fork',
    '--ro-bind', options.pipes.directory, FORK_PIPES,
    // Writable: homes the server mounts below it later arrive here as they are (a mount propagated below a read-only
    // bind would arrive read-only).
    '--bind', options.mountRoot, FORK_MOUNTS,
    '--cap-drop', 'ALL',
    '--cap-add', 'CAP_SYS_ADMIN',
    '--cap-add', 'CAP_SYS_CHROOT',
    '--cap-add', 'CAP_NET_ADMIN',
    '--cap-add', 'CAP_SETPCAP',
    '--cap-add', 'CAP_SYS_RESOURCE',
    '--seccomp', String(TEMPLATE_SECCOMP_FD),
    ...SANDBOX_ENVIRONMENT,
  ];
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function descendants(pid: number): number[] {
  const found: number[] = [];
  for (let queue = childrenOf(pid); queue.length > 0; ) {
    const next = queue.shift()!;
    found.push(next);
    queue.push(...childrenOf(next));
  }
  return found;
}

/** A process's pid in each pid namespace from the host's down to its own (`NSpid` of /proc/<pid>/status). */
function namespacePids(pid: number): number[] {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((entry) => entry.startsWith('NSpid:'));
    return line ? line.slice(6).trim().split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

/**
 * The host pid of the template's child whose pid in the template's namespace is `pid`: among its newest children
 * first, then among every process (the kernel's list of a process's children can miss one while others exit).
 */
function interpreterHostPid(template: number, pid: number): number | undefined {
  const isIt = (candidate: number): boolean => namespacePids(candidate)[1] === pid;
  return (
    childrenOf(template).reverse().find(isIt) ??
    readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .find((candidate) => parentOf(candidate) === template && isIt(candidate))
  );
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
