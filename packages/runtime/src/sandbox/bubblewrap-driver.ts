import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { CgroupPool } from '../cgroups/cgroup-pool.js';
import type { CgroupSlot } from '../cgroups/cgroup-types.js';
import { OutputCapture } from './output-capture.js';
import type { PipeFactory, SandboxPipe } from './pipe-factory.js';
import { encodeStubRequest, stubCommand } from './stubs.js';
import {
  SANDBOX_HOME,
  SANDBOX_PATH,
  SANDBOX_UID_INSIDE,
  SandboxStartError,
  type PreparedSandbox,
  type RunRequest,
  type SandboxOutcome,
  type SandboxSpec,
  type SandboxStatus,
} from './sandbox-types.js';

export interface BubblewrapDriverOptions {
  bwrapPath: string;
  /** native/sandbox-launcher.c: joins the cgroup, drops to the sandbox user, reaps, then runs bubblewrap. */
  launcherPath: string;
  seccompProgramPath: string;
  /** Host uid and gid the sandbox runs as (mapped to uid 1000 inside). */
  hostUid: number;
  hostGid: number;
  pipes: PipeFactory;
  cgroups: CgroupPool;
  outputLimitBytes: number;
  /** How long a sandbox may take to start its interpreter. */
  startTimeoutMs?: number;
}

// File descriptors as the sandbox sees them: 0-2 stdio, 3 the request (read by the stub), then the ones below.
// The launcher closes every descriptor above the last one.
const EVENTS_FD = 4;
const SECCOMP_FD = 5;
const LAST_FD = SECCOMP_FD;

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
    let seccompFd: number | undefined;
    try {
      const stdout = await options.pipes.sandboxWritable();
      pipes.push(stdout);
      const stderr = await options.pipes.sandboxWritable();
      pipes.push(stderr);
      const request = await options.pipes.sandboxReadable();
      pipes.push(request);
      seccompFd = openSync(options.seccompProgramPath, constants.O_RDONLY);
      const command = [
        String(options.hostUid),
        String(options.hostGid),
        String(LAST_FD),
        ...slot.procsFiles,
        '--',
        options.bwrapPath,
        ...bubblewrapArguments(spec),
        '--',
        ...stubCommand(spec.language, spec.interpreter),
      ];
      const child = spawn(options.launcherPath, command, {
        cwd: '/',
        env: {},
        stdio: ['ignore', stdout.sandboxFd, stderr.sandboxFd, request.sandboxFd, 'pipe', seccompFd],
      });
      for (const pipe of pipes) closeSync(pipe.sandboxFd);
      closeSync(seccompFd);
      return new BubblewrapSandbox({
        spec,
        child,
        slot,
        cgroups: options.cgroups,
        stdoutFd: stdout.hostFd,
        stderrFd: stderr.hostFd,
        requestFd: request.hostFd,
        outputLimitBytes: options.outputLimitBytes,
        startTimeoutMs: options.startTimeoutMs ?? 30_000,
      });
    } catch (error) {
      for (const fd of pipes.flatMap((pipe) => [pipe.hostFd, pipe.sandboxFd]).concat(seccompFd ?? [])) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      }
      await options.cgroups.release(slot);
      throw error;
    }
  }
}

export function bubblewrapArguments(spec: SandboxSpec): string[] {
  const { limits } = spec;
  return [
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--uid', String(SANDBOX_UID_INSIDE),
    '--gid', String(SANDBOX_UID_INSIDE),
    '--hostname', 'sandbox',
    '--ro-bind', spec.rootfs, '/',
    '--proc', '/proc',
    '--dev', '/dev',
    '--perms', '1777', '--size', String(limits.tmpBytes), '--tmpfs', '/dev/shm',
    '--perms', '1777', '--size', String(limits.tmpBytes), '--tmpfs', '/tmp',
    '--perms', '0700', '--size', String(limits.homeBytes), '--tmpfs', SANDBOX_HOME,
    '--perms', '0755', '--size', String(RUN_DIRECTORY_BYTES), '--tmpfs', '/run',
    '--dir', '/run/airlock',
    '--cap-drop', 'ALL',
    '--clearenv',
    '--setenv', 'PATH', SANDBOX_PATH,
    '--setenv', 'HOME', SANDBOX_HOME,
    '--setenv', 'LANG', 'C.UTF-8',
    '--setenv', 'TMPDIR', '/tmp',
    '--chdir', SANDBOX_HOME,
    '--seccomp', String(SECCOMP_FD),
  ];
}

interface BubblewrapSandboxOptions {
  spec: SandboxSpec;
  child: ChildProcess;
  slot: CgroupSlot;
  cgroups: CgroupPool;
  stdoutFd: number;
  stderrFd: number;
  requestFd: number;
  outputLimitBytes: number;
  startTimeoutMs: number;
}

class BubblewrapSandbox implements PreparedSandbox {
  readonly language;
  readonly ready: Promise<void>;
  readonly codeStarted: Promise<void>;
  readonly #options: BubblewrapSandboxOptions;
  readonly #stdout: Socket;
  readonly #stderr: Socket;
  readonly #request: Socket;
  readonly #exited: Promise<number | null>;
  #bootLog = '';
  #startedAt: number | undefined;
  #onStarted: ((at: number) => void) | undefined;
  #destroyed = false;
  #used = false;
  #hasExited = false;

  constructor(options: BubblewrapSandboxOptions) {
    this.#options = options;
    this.language = options.spec.language;
    const { child } = options;
    this.#stdout = new Socket({ fd: options.stdoutFd, readable: true, writable: false });
    this.#stderr = new Socket({ fd: options.stderrFd, readable: true, writable: false });
    this.#request = new Socket({ fd: options.requestFd, readable: false, writable: true });
    this.#request.on('error', () => undefined); // the sandbox may die before reading its request
    this.#exited = new Promise((resolve) => {
      child.on('error', () => resolve(null));
      child.on('exit', (code) => resolve(code));
    });
    void this.#exited.then(() => (this.#hasExited = true));
    let markStarted: () => void = () => undefined;
    this.codeStarted = new Promise<void>((resolve) => (markStarted = resolve));
    void this.#exited.then(() => markStarted());
    // Until the interpreter is up, stderr carries only the launcher's and bubblewrap's own messages.
    const collectBootLog = (chunk: Buffer): void => {
      if (this.#bootLog.length < 4096) this.#bootLog += chunk.toString();
    };
    this.#stderr.on('data', collectBootLog);

    const events = (child.stdio as unknown as Readable[])[EVENTS_FD]!;
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
      events.on('data', (chunk: Buffer) => {
        received += chunk.toString();
        if (!isReady && received.startsWith('R')) {
          isReady = true;
          clearTimeout(timer);
          this.#stderr.off('data', collectBootLog);
          resolve();
        }
        if (received.includes('S') && this.#startedAt === undefined) {
          this.#startedAt = performance.now();
          this.#onStarted?.(this.#startedAt);
          markStarted();
        }
      });
      void this.#exited.then((code) => {
        if (!isReady) fail(`it exited with ${code}`);
      });
    });
    this.ready.catch(() => undefined);
  }

  get isAlive(): boolean {
    return !this.#hasExited && !this.#destroyed;
  }

  async run(request: RunRequest): Promise<SandboxOutcome> {
    if (this.#used) throw new Error('a prepared sandbox runs code once');
    this.#used = true;
    await this.ready;
    const { slot } = this.#options;
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
    this.#request.end(encodeStubRequest({ cwd: request.cwd ?? SANDBOX_HOME, env: request.env, code: request.code }));
    try {
      const codeStartedAt = await Promise.race([started, this.#exited.then(() => performance.now())]);
      // The launcher exits once bubblewrap's pid 1 has; the kernel then kills the rest of the PID namespace, and
      // the pipes reach end of file when the last process holding them is gone.
      const exitCode = await this.#exited;
      await Promise.all([stdoutDone, stderrDone]);
      const runMs = performance.now() - codeStartedAt;
      const usage = await slot.usage();
      const status: SandboxStatus = stopReason ?? (usage.oomKilled ? 'oom' : exitCode === 0 ? 'success' : 'failed');
      return {
        status,
        exitCode: stopReason ? null : exitCode,
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdoutTruncated: stdout.truncated,
        stderrTruncated: stderr.truncated,
        codeStartedAt,
        runMs,
        peakMemoryBytes: usage.peakMemoryBytes,
        cpuTimeMs: usage.cpuTimeMs,
      };
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      // Emptying and recycling the cgroup happens after the response.
      void this.destroy();
    }
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    // Until the interpreter reports ready, the sandbox may not have joined its cgroup yet.
    await this.ready.catch(() => undefined);
    // Killing the cgroup ends bubblewrap and the sandbox; the launcher then reaps them and exits.
    await this.#options.slot.killAll().catch(() => undefined);
    await this.#exited;
    for (const socket of [this.#stdout, this.#stderr, this.#request]) socket.destroy();
    await this.#options.cgroups.release(this.#options.slot);
  }
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
