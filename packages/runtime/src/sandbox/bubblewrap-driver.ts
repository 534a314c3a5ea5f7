import { closeSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { CgroupPool } from '../cgroups/cgroup-pool.js';
import type { CgroupSlot } from '../cgroups/cgroup-types.js';
import { OutputCapture } from './output-capture.js';
import type { HomeMounts, SandboxHome } from './home-mounts.js';
import type { PipeFactory, SandboxPipe, StubPipes } from './pipe-factory.js';
import type { SpawnFile, SpawnedProcess, Spawner } from './spawner.js';
import { encodeStubRequest, stubCommand } from './stubs.js';
import {
  SANDBOX_HOME,
  SANDBOX_HOST_SOCKETS,
  SANDBOX_PATH,
  SANDBOX_UID_INSIDE,
  SandboxStartError,
  type PreparedSandbox,
  type RunRequest,
  type SandboxOutcome,
  type SandboxSpec,
  type StorageAttachment,
  type SandboxStatus,
} from './sandbox-types.js';

/** What a shell reports for a process killed by SIGKILL (128 + 9): a timeout or a cancellation kills the tree so. */
const KILLED_EXIT_CODE = 137;

/** What starting a bubblewrap sandbox takes, for sandboxes and fork templates alike. */
export interface BubblewrapLaunch {
  bwrapPath: string;
  /** Forks bubblewrap into the slot's cgroup as the sandbox user (native/sandbox-spawner.c). */
  spawner: Spawner;
  seccompProgramPath: string;
  /** Host uid and gid the sandbox runs as (mapped to uid 1000 inside). */
  hostUid: number;
  hostGid: number;
  pipes: PipeFactory;
  cgroups: CgroupPool;
  /** Bound read-only at SANDBOX_HOST_SOCKETS in every sandbox. */
  hostSocketsDirectory: string;
}

export interface BubblewrapDriverOptions extends BubblewrapLaunch {
  homes: HomeMounts;
  outputLimitBytes: number;
  /** How long a sandbox may take to start its interpreter. */
  startTimeoutMs?: number;
}

// File descriptors as the sandbox sees them: 0 /dev/null, 1-2 stdout and stderr, 3 the request (read by the stub),
// 4 the stub's events, 5 the seccomp program and 6 bubblewrap's options (both read and closed by bubblewrap); for
// python, 1-2 are /dev/null and bubblewrap's messages, and stdout and stderr come as 7-8 (pythonStubFiles). The
// spawner closes every other descriptor.
const SECCOMP_FD = 5;
const ARGUMENTS_FD = 6;
/** The stub's events ("R", then "S" and a clock reading) fit in this; anything beyond is ignored. */
const MAX_EVENT_BYTES = 64;
/** How long a sandbox that exited before it was ready is given for its last messages to be read. */
const BOOT_LOG_GRACE_MS = 1000;

/** /run holds /run/airlock: the bash script being run (code is at most 1 MiB) and, later, credentials. */
const RUN_DIRECTORY_BYTES = 4 * 1024 * 1024;

/** Starts sandboxes with bubblewrap: every namespace, a read-only image root, seccomp, and a reusable cgroup. */
export class BubblewrapDriver {
  readonly #options: BubblewrapDriverOptions;

  constructor(options: BubblewrapDriverOptions) {
    this.#options = options;
  }

  /** Starts a sandbox up to the point where its interpreter waits for code. */
  async prepare(spec: SandboxSpec): Promise<PreparedSandbox> {
    const options = this.#options;
    const { limits } = spec;
    const slot = await options.cgroups.lease({ cpus: limits.cpus, memoryBytes: limits.memoryBytes, pids: limits.pids });
    const pipes: SandboxPipe[] = [];
    let home: SandboxHome | undefined;
    try {
      home = await options.homes.create(limits.homeBytes);
      const stubPipes = await options.pipes.stubPipes(pipes);
      const messages = spec.language === 'python' ? await options.pipes.sandboxWrites() : undefined;
      if (messages) pipes.push(messages);
      const argumentFile = options.pipes.argumentFile(bubblewrapArguments(spec, home.path, home.dataPath, options.hostSocketsDirectory));
      let spawned: SpawnedProcess;
      try {
        spawned = await options.spawner.spawn({
          uid: options.hostUid,
          gid: options.hostGid,
          files: messages
            ? pythonStubFiles(stubPipes, messages, options.seccompProgramPath, argumentFile.path)
            : stubFiles(stubPipes, options.seccompProgramPath, argumentFile.path),
          networkNamespace: spec.network?.namespacePath,
          cgroupProcsFiles: [...slot.procsFiles],
          argv: [options.bwrapPath, '--args', String(ARGUMENTS_FD), '--', ...stubCommand(spec.language, spec.interpreter)],
        });
      } finally {
        for (const pipe of [...pipes, argumentFile]) options.pipes.unlink(pipe);
      }
      const bubblewrapPid = spawned.pid;
      return new BubblewrapSandbox({
        spec,
        process: spawned,
        interpreterPid: (members) => bubblewrapCommandPid(bubblewrapPid, members),
        slot,
        home,
        cgroups: options.cgroups,
        pipes: stubPipes,
        ...(messages && { launcherMessages: messages }),
        outputLimitBytes: options.outputLimitBytes,
        startTimeoutMs: options.startTimeoutMs ?? 30_000,
      });
    } catch (error) {
      for (const pipe of pipes) closeSync(pipe.hostFd);
      await home?.remove();
      await options.cgroups.release(slot);
      await spec.network?.release();
      throw error;
    }
  }
}

/**
 * The files a stub's bubblewrap gets as fds 1-6 (see the descriptor layout above): stdout, stderr, request and events
 * pipes, the seccomp program and bubblewrap's options.
 */
export function stubFiles(pipes: StubPipes, seccompProgramPath: string, argumentFile: string): SpawnFile[] {
  const [stdout, stderr, request, events] = pipes;
  return [
    { mode: 'w', path: stdout.path },
    { mode: 'w', path: stderr.path },
    { mode: 'r', path: request.path },
    { mode: 'w', path: events.path },
    { mode: 'r', path: seccompProgramPath },
    { mode: 'r', path: argumentFile },
  ];
}

/**
 * A python stub's files: as {@link stubFiles}, but with stdout and stderr as fds 7 and 8, which the stub moves to 1 and
 * 2 before it reports ready. bubblewrap's own fds 1 and 2, which its two processes hold until the sandbox's end, are
 * /dev/null and `messages` (its error messages, and the interpreter's before the stub runs): the output pipes then
 * reach end of file as soon as the interpreter and the processes it left have closed them, without waiting for
 * bubblewrap to exit.
 */
export function pythonStubFiles(pipes: StubPipes, messages: SandboxPipe, seccompProgramPath: string, argumentFile: string): SpawnFile[] {
  const [stdout, stderr, ...rest] = stubFiles(pipes, seccompProgramPath, argumentFile);
  return [{ mode: 'w', path: '/dev/null' }, { mode: 'w', path: messages.path }, ...rest, stdout!, stderr!];
}

/** bubblewrap's options for a sandbox's clean environment (DESIGN: never the server's) and working directory. */
export const SANDBOX_ENVIRONMENT: readonly string[] = [
  '--clearenv',
  '--setenv', 'PATH', SANDBOX_PATH,
  '--setenv', 'HOME', SANDBOX_HOME,
  '--setenv', 'LANG', 'C.UTF-8',
  '--setenv', 'TMPDIR', '/tmp',
  '--chdir', SANDBOX_HOME,
];

/**
 * bubblewrap's options (the command follows `--` on its command line). `homePath`: the host directory (a mount point
 * the host may mount over later) bound at /home/sandbox; `dataPath`: the host directory bound at /data, below which
 * storage is mounted later; `hostSockets`: the directory of the server's sockets, bound read-only.
 */
export function bubblewrapArguments(spec: SandboxSpec, homePath: string, dataPath: string, hostSockets: string): string[] {
  const { limits } = spec;
  return [
    '--unshare-all',
    // With a slot network the sandbox stays in the namespace the spawner joined for it.
    ...(spec.network ? ['--share-net'] : []),
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--uid', String(SANDBOX_UID_INSIDE),
    '--gid', String(SANDBOX_UID_INSIDE),
    '--hostname', 'sandbox',
    '--ro-bind', spec.rootfs, '/',
    ...(spec.network ? ['--ro-bind', spec.network.resolvConf, '/etc/resolv.conf'] : []),
    '--proc', '/proc',
    '--dev', '/dev',
    '--perms', '1777', '--size', String(limits.tmpBytes), '--tmpfs', '/dev/shm',
    '--perms', '1777', '--size', String(limits.tmpBytes), '--tmpfs', '/tmp',
    '--bind', homePath, SANDBOX_HOME,
    // Writable as a mount (a mount propagated below a read-only one arrives read-only), but a root-owned directory
    // of mode 0755: the sandbox user makes nothing in it.
    '--bind', dataPath, '/data',
    '--perms', '0755', '--size', String(RUN_DIRECTORY_BYTES), '--tmpfs', '/run',
    '--dir', '/run/airlock',
    '--ro-bind', hostSockets, SANDBOX_HOST_SOCKETS,
    '--cap-drop', 'ALL',
    ...SANDBOX_ENVIRONMENT,
    '--seccomp', String(SECCOMP_FD),
  ];
}

export interface BubblewrapSandboxOptions {
  spec: SandboxSpec;
  process: SpawnedProcess;
  /**
   * The host pid of the stub's interpreter among the slot's processes once it reports ready (undefined if it cannot be
   * told); without this option, `process` is the interpreter.
   */
  interpreterPid?: (members: readonly number[]) => number | undefined;
  slot: CgroupSlot;
  home: SandboxHome;
  cgroups: CgroupPool;
  /** Their host ends become the sandbox's sockets. */
  pipes: StubPipes;
  /** Where bubblewrap writes its own messages, when not on the stderr pipe (see {@link pythonStubFiles}). */
  launcherMessages?: SandboxPipe;
  outputLimitBytes: number;
  startTimeoutMs: number;
}

/**
 * A started sandbox driven through its pipes: the stub's events, the request, stdout and stderr; its processes end
 * with its cgroup. Started by bubblewrap (BubblewrapDriver) or forked from a template (ForkDriver).
 */
export class BubblewrapSandbox implements PreparedSandbox {
  readonly language;
  readonly ready: Promise<void>;
  readonly codeStarted: Promise<void>;
  readonly #options: BubblewrapSandboxOptions;
  readonly #stdout: Socket;
  readonly #stderr: Socket;
  readonly #request: Socket;
  readonly #events: Socket;
  readonly #launcherMessages: Socket | undefined;
  readonly #exited: Promise<number | null>;
  /**
   * The exit code the stub's exit reports before the process is gone: it has then closed its output and only tears
   * its address space down (then, in a fresh sandbox, bubblewrap and the namespaces). Never settles for a sandbox
   * whose stub does not report.
   */
  readonly #reportedExit: Promise<number>;
  /** Whose exit the report is checked against. */
  #interpreterPid: number | undefined;
  /** The slot's processes when the interpreter reported ready, before any code ran. */
  #readyMembers: ReadonlySet<number> = new Set();
  #exitBelieved = false;
  /** Set once `ready` has resolved: the sandbox's mounts are set up and follow its home's by propagation. */
  #isReady = false;
  #bootLog = '';
  #startedAt: number | undefined;
  #requestSentAt: number | undefined;
  #onStarted: ((at: number) => void) | undefined;
  #destroyed = false;
  #destroying: Promise<void> | undefined;
  #used = false;
  #hasExited = false;

  constructor(options: BubblewrapSandboxOptions) {
    this.#options = options;
    this.language = options.spec.language;
    const [stdoutPipe, stderrPipe, requestPipe, eventsPipe] = options.pipes;
    this.#stdout = new Socket({ fd: stdoutPipe.hostFd, readable: true, writable: false });
    this.#stderr = new Socket({ fd: stderrPipe.hostFd, readable: true, writable: false });
    this.#request = new Socket({ fd: requestPipe.hostFd, readable: false, writable: true });
    this.#request.on('error', () => undefined); // the sandbox may die before reading its request
    this.#exited = options.process.exited;
    this.#events = new Socket({ fd: eventsPipe.hostFd, readable: true, writable: false });
    void this.#exited.then(() => (this.#hasExited = true));
    let markStarted: () => void = () => undefined;
    this.codeStarted = new Promise<void>((resolve) => (markStarted = resolve));
    void this.#exited.then(() => markStarted());
    // Until the interpreter is up, stderr carries only the launcher's and bubblewrap's own messages.
    const collectBootLog = (chunk: Buffer): void => {
      if (this.#bootLog.length < 4096) this.#bootLog += chunk.toString();
    };
    this.#stderr.on('data', collectBootLog);
    const { launcherMessages } = options;
    this.#launcherMessages = launcherMessages && new Socket({ fd: launcherMessages.hostFd, readable: true, writable: false });
    this.#launcherMessages?.on('data', collectBootLog);

    const events = this.#events;
    let reportExit: (code: number) => void = () => undefined;
    this.#reportedExit = new Promise<number>((resolve) => (reportExit = resolve));
    this.ready = new Promise<void>((resolve, reject) => {
      let received = '';
      let isReady = false;
      const fail = (reason: string): void => {
        clearTimeout(timer);
        const log = this.#bootLog.trim();
        reject(new SandboxStartError(`sandbox failed to start: ${reason}${log ? `: ${log}` : ''}`));
        void this.destroy();
      };
      const timer = setTimeout(() => fail(`no interpreter within ${options.startTimeoutMs} ms`), options.startTimeoutMs);
      // The stub writes "R" once it waits for code, then "S<monotonic clock in nanoseconds>\n" just before the code
      // runs (bash, without a clock to read, writes "S\n").
      const markCodeStarted = (clockText: string | undefined): void => {
        if (this.#startedAt !== undefined) return;
        this.#startedAt = stubClockToNow(clockText, this.#requestSentAt ?? 0);
        this.#onStarted?.(this.#startedAt);
        markStarted();
      };
      events.on('data', (chunk: Buffer) => {
        if (received.length < MAX_EVENT_BYTES) received += chunk.toString('latin1');
        if (!isReady && received.startsWith('R')) {
          isReady = true;
          clearTimeout(timer);
          this.#stderr.off('data', collectBootLog);
          this.#launcherMessages?.off('data', collectBootLog).resume();
          resolve();
        }
        const start = received.indexOf('S');
        const end = received.indexOf('\n', start);
        if (start >= 0 && (end >= 0 || received.length >= MAX_EVENT_BYTES)) {
          markCodeStarted(end >= 0 ? received.slice(start + 1, end) : undefined);
        }
        // The python stub reports "E<exit code>\n" once its exit is complete but for the process's own teardown.
        const exit = end >= 0 ? /^E(\d{1,3})\n/.exec(received.slice(end + 1)) : null;
        if (exit) reportExit(Number(exit[1]));
      });
      events.on('end', () => {
        if (received.includes('S')) markCodeStarted(undefined);
      });
      void this.#exited.then(async (code) => {
        if (isReady) return;
        // The exit can be seen before the messages bubblewrap wrote just before it are read.
        const bootLogs = [this.#stderr, this.#launcherMessages].filter((stream) => stream !== undefined);
        await Promise.race([Promise.all(bootLogs.map(streamEnded)), delay(BOOT_LOG_GRACE_MS, undefined, { ref: false })]);
        if (!isReady) fail(`it exited with ${code}`);
      });
    });
    this.ready.then(
      () => {
        this.#isReady = true;
        const members = slotMembers(options.slot) ?? [];
        this.#readyMembers = new Set(members);
        this.#interpreterPid = options.interpreterPid ? options.interpreterPid(members) : options.process.pid;
      },
      () => undefined,
    );
  }

  get isAlive(): boolean {
    return !this.#hasExited && !this.#destroyed;
  }

  attachLayers(layers: readonly string[] | Promise<readonly string[]>, expected?: readonly string[]): Promise<string> {
    if (this.#used) throw new Error('layers are attached before the code runs');
    // A sandbox still being set up could copy an overlay on the expected layers that a second mount never replaces.
    return this.#options.home.attachLayers(layers, this.#isReady ? expected : undefined);
  }

  attachStorage(attachments: readonly StorageAttachment[]): Promise<void> {
    if (this.#used) throw new Error('storage is attached before the code runs');
    return this.#options.home.attachStorage(attachments);
  }

  async run(request: RunRequest): Promise<SandboxOutcome> {
    if (this.#used) throw new Error('a prepared sandbox runs code once');
    this.#used = true;
    await this.ready;
    const { slot } = this.#options;
    const network = this.#options.spec.network;
    if ((request.networkAllowlist || request.connectorEndpoints?.length) && !network) {
      throw new Error('a network allowlist or connector endpoints need a sandbox with network');
    }
    if (request.networkAllowlist) await network?.restrict(request.networkAllowlist);
    if (request.connectorEndpoints?.length) await network?.openConnectors(request.connectorEndpoints);
    const stdout = new OutputCapture(this.#options.outputLimitBytes);
    const stderr = new OutputCapture(this.#options.outputLimitBytes);
    const stdoutDone = drain(this.#stdout, stdout, request.onStdout);
    const stderrDone = drain(this.#stderr, stderr, request.onStderr);
    const started = new Promise<number>((resolve) => (this.#onStarted = resolve));

    let stopReason: 'timeout' | 'cancelled' | undefined;
    const stop = (reason: 'timeout' | 'cancelled'): void => {
      stopReason ??= reason;
      void slot.killAll().catch(() => undefined);
    };
    const onAbort = (): void => stop('cancelled');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    if (request.signal?.aborted) stop('cancelled');
    const timer = setTimeout(() => stop('timeout'), request.timeoutMs);
    this.#requestSentAt = performance.now();
    this.#request.end(encodeStubRequest(this.language, { cwd: request.cwd ?? SANDBOX_HOME, env: request.env, files: request.files, code: request.code }));
    try {
      const codeStartedAt = await Promise.race([started, this.#exited.then(() => performance.now())]);
      // bubblewrap exits once the sandbox's pid 1 has; the kernel then kills the rest of the PID namespace, and
      // the pipes reach end of file when the last process holding them is gone.
      const exitCode = await Promise.race([
        this.#exited,
        // Believed once the output is closed and the kernel shows the process exiting with that code; a report the
        // code writes itself while it runs on, or with another code, is not, and the process's end is waited for.
        this.#reportedExit.then(async (code) => {
          await Promise.all([stdoutDone, stderrDone]);
          const pid = this.#interpreterPid;
          if (pid === undefined || !isExitingWith(pid, code)) return this.#exited;
          this.#exitBelieved = true;
          return code;
        }),
      ]);
      await Promise.all([stdoutDone, stderrDone]);
      const runMs = performance.now() - codeStartedAt;
      const usage = await slot.usage();
      const status: SandboxStatus = stopReason ?? (usage.oomKilled ? 'oom' : exitCode === 0 ? 'success' : 'failed');
      if (request.afterExit) {
        // Nothing of the sandbox may still run (a process that closed its output could outlive pid 1 briefly). After a
        // believed exit, the slot may hold only what it held before the code ran (bubblewrap's processes and the
        // exiting interpreter, none of which forks again); anything else is killed first.
        const left = this.#exitBelieved ? slotMembers(slot) : undefined;
        if (!left?.every((pid) => this.#readyMembers.has(pid))) await slot.killAll();
        await request.afterExit();
      }
      // Read before the sandbox is destroyed, which clears its flow counters.
      const network = (await this.#options.spec.network?.receipt()) ?? null;
      return {
        status,
        exitCode: exitCode ?? KILLED_EXIT_CODE,
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdoutTruncated: stdout.truncated,
        stderrTruncated: stderr.truncated,
        codeStartedAt,
        runMs,
        peakMemoryBytes: usage.peakMemoryBytes,
        cpuTimeMs: usage.cpuTimeMs,
        network,
      };
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      // Emptying and recycling the cgroup happens after the response.
      void this.destroy();
    }
  }

  destroy(): Promise<void> {
    this.#destroyed = true;
    this.#destroying ??= this.#tearDown();
    return this.#destroying;
  }

  async #tearDown(): Promise<void> {
    // Until the interpreter reports ready, the sandbox may not have joined its cgroup yet.
    await this.ready.catch(() => undefined);
    // An interpreter whose exit was believed ends by itself in a moment, and its namespace with it: the cgroup is
    // then found empty instead of frozen and killed.
    if (this.#exitBelieved) await this.#exited;
    // Killing the cgroup ends bubblewrap and the sandbox; the spawner reaps them.
    await this.#options.slot.killAll().catch(() => undefined);
    await this.#exited;
    for (const socket of [this.#stdout, this.#stderr, this.#request, this.#events, this.#launcherMessages]) socket?.destroy();
    await this.#options.home.remove();
    await this.#options.cgroups.release(this.#options.slot);
    await this.#options.spec.network?.release();
    this.#options.spec.onReleased?.();
  }
}

/**
 * Whether the process is in exit (PF_EXITING in /proc/<pid>/stat's flags) with exit status `code` (its exit_code
 * field, which the kernel sets before it unmaps the process's memory).
 */
function isExitingWith(pid: number, code: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[6]) & 0x4) !== 0 && Number(fields[49]) === code << 8;
  } catch {
    return false;
  }
}

/**
 * The host pid of the command in a bubblewrap sandbox: bubblewrap (`bubblewrapPid`) forks the sandbox's pid 1, which
 * forks the command; all three are among the slot's processes (`members`). Undefined if the tree is not that one.
 */
function bubblewrapCommandPid(bubblewrapPid: number, members: readonly number[]): number | undefined {
  try {
    const parents = new Map<number, number>();
    for (const pid of members) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    }
    const children = (parent: number): number[] => [...parents].filter(([, ppid]) => ppid === parent).map(([pid]) => pid);
    const init = children(bubblewrapPid);
    const command = init.length === 1 ? children(init[0]!) : [];
    return command.length === 1 ? command[0] : undefined;
  } catch {
    return undefined;
  }
}

/** The pids in the slot's cgroup (from its first hierarchy: a process is in every one at once); undefined if unreadable. */
function slotMembers(slot: CgroupSlot): number[] | undefined {
  try {
    return readFileSync(slot.procsFiles[0]!, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return undefined;
  }
}

/** performance.now() and process.hrtime() both read CLOCK_MONOTONIC; this is hrtime's reading at performance.now() 0. */
const MONOTONIC_ORIGIN_NS = process.hrtime.bigint() - BigInt(Math.round(performance.now() * 1e6));

/**
 * When the stub reported that the code started, on this process's performance.now() clock: the stub's reading of
 * CLOCK_MONOTONIC in nanoseconds (the host's clock: sandboxes have no time namespace), kept between the moment the
 * code was sent and now, so a sandbox can only move its own figure within that window. Without a reading, now.
 */
function stubClockToNow(clockText: string | undefined, sentAt: number): number {
  const now = performance.now();
  if (clockText === undefined || !/^\d{1,20}$/.test(clockText)) return now;
  const startedAt = Number(BigInt(clockText) - MONOTONIC_ORIGIN_NS) / 1e6;
  return Math.min(now, Math.max(sentAt, startedAt));
}

function streamEnded(stream: Socket): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}

function drain(stream: Socket, capture: OutputCapture, onChunk?: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      capture.append(chunk);
      onChunk?.(chunk);
    });
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
}
