import type { NetworkFlow } from '../network/network-receipt.js';
import type { SlotNetwork } from '../network/sandbox-networks.js';
import type { ConnectorEndpoint } from '../network/slot-connectors.js';
export type SandboxLanguage = 'python' | 'node' | 'bash';

export interface SandboxLimits {
  /** CPU quota in cores. */
  cpus: number;
  /** Memory limit of the whole sandbox, tmpfs contents included. */
  memoryBytes: number;
  pids: number;
  tmpBytes: number;
  homeBytes: number;
}

/** What a sandbox is made of; everything that is fixed before code arrives. */
export interface SandboxSpec {
  /** Read-only root file system: a runtime image's root as HomeMounts.mountImage mounts it. */
  rootfs: string;
  language: SandboxLanguage;
  /** Absolute interpreter path inside the image. */
  interpreter: string;
  limits: SandboxLimits;
  /**
   * The slot's network, which the sandbox then owns (released with it); without one the sandbox has an empty network
   * namespace of its own: loopback only.
   */
  network?: SlotNetwork;
  /** Called once the sandbox is torn down, after its processes are gone (not when prepare throws). */
  onReleased?: () => void;
}

/**
 * `none`: an empty network namespace. `unrestricted`: a namespace of its own routed to the internet, filtered.
 * `allowlist`: the same, reaching only what RunRequest.networkAllowlist lists (nothing without one).
 */
export type SandboxNetworkMode = 'none' | 'unrestricted' | 'allowlist';

/** How a sandbox's interpreter starts: `fresh` with bubblewrap, `fork` from a template (PoolKey.start). */
export const SANDBOX_STARTS = ['fresh', 'fork'] as const;
export type SandboxStart = (typeof SANDBOX_STARTS)[number];

/** What varies per call, bound after the sandbox is prepared. */
export interface RunRequest {
  code: string;
  env: Record<string, string>;
  cwd?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * For a sandbox prepared with network `allowlist`: the names, `*.` wildcards and public IPv4 networks it reaches (as
   * `@airlock/contracts` validates them).
   */
  networkAllowlist?: readonly string[];
  /**
   * Files the sandbox's entry point writes before the code runs, below RUN_FILES_ROOT in the sandbox's own /run (a
   * tmpfs of its mount namespace: RAM charged to the sandbox, gone when its last process is): mode 0600 in
   * directories of mode 0700, owned by the sandbox user. Text without NUL.
   */
  files?: ReadonlyArray<{ path: string; content: string }>;
  /** TCP endpoints the sandbox reaches whatever its network mode; needs a sandbox prepared with network. */
  connectorEndpoints?: readonly ConnectorEndpoint[];
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /**
   * Runs once every process of the sandbox has ended and before it is torn down, e.g. to save the changes of a home
   * with attached layers; run() resolves after it.
   */
  afterExit?: () => Promise<void>;
}

export type SandboxStatus = 'success' | 'failed' | 'timeout' | 'oom' | 'cancelled';

export interface SandboxOutcome {
  status: SandboxStatus;
  /** Exit code of the code's process; 128+N when killed by signal N (137 after a timeout or cancellation). */
  exitCode: number;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** performance.now() when the code was handed to the ready interpreter. */
  codeStartedAt: number;
  /** From code start to the end of the process tree. */
  runMs: number;
  peakMemoryBytes: number | null;
  cpuTimeMs: number | null;
  /** What a sandbox with network contacted or tried (its receipt); null for one without network. */
  network: NetworkFlow[] | null;
}

/** Storage to bind at /data/<name> of a sandbox before its code runs. */
export interface StorageAttachment {
  /** The mount point's name below /data. */
  name: string;
  /** A host directory: a volume's, or a bucket's mount. */
  root: string;
  /** The directory below `root` the sandbox sees ("" for `root` itself): segments separated by "/". */
  path: string;
  readOnly: boolean;
}

/** A sandbox whose interpreter is started and waiting for code; single use. */
export interface PreparedSandbox {
  readonly language: SandboxLanguage;
  /** Resolves once the interpreter waits for code; rejects if the sandbox failed to start. */
  readonly ready: Promise<void>;
  /** False once the sandbox's process has exited or the sandbox was destroyed. */
  readonly isAlive: boolean;
  /** Resolves when code has started running in it, or when it ends without running code. */
  readonly codeStarted: Promise<void>;
  /**
   * Mounts read-only home layers (first = topmost) and a fresh writable layer over the sandbox's home, before run().
   * Returns the host directory of the writable layer: the code's changes, to be read in `afterExit`. The layers may
   * come as a promise: the writable layer is made while it settles, and a sandbox that is ready mounts the overlay
   * on `expected` (layers the caller expects, already on this node) meanwhile, again on the layers if they differ.
   */
  attachLayers(layers: readonly string[] | Promise<readonly string[]>, expected?: readonly string[]): Promise<string>;
  /** Binds storage at /data/<name> (SandboxHome.attachStorage), before run(). */
  attachStorage(attachments: readonly StorageAttachment[]): Promise<void>;
  run(request: RunRequest): Promise<SandboxOutcome>;
  /** Kills the sandbox if it is still alive and releases its resources; idempotent. */
  destroy(): Promise<void>;
}

export class SandboxStartError extends Error {
  override readonly name = 'SandboxStartError';
}

export const SANDBOX_HOME = '/home/sandbox';
/**
 * Where every sandbox sees the host's sockets directory (SandboxRuntime.hostSocketsDirectory), read-only: services of
 * the server a sandbox may call whatever its network, each deciding itself whom it answers.
 */
export const SANDBOX_HOST_SOCKETS = '/run/airlock/host';
/** Where RunRequest.files may be written. */
export const RUN_FILES_ROOT = '/run/airlock/connectors';
export const SANDBOX_UID_INSIDE = 1000;
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';
