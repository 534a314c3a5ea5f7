import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One bucket (or container) below a prefix, as rclone mounts it. */
export interface BucketMountSpec {
  /** Names the mount in messages: the storage connection's. */
  label: string;
  /** rclone's remote as environment variables (`RCLONE_CONFIG_<REMOTE>_*`): no configuration file is written. */
  environment: Record<string, string>;
  /** `<remote>:<bucket>/<prefix>`: what the mount shows. */
  remotePath: string;
  readOnly: boolean;
  /**
   * `write_back`: writes go to a local cache first and are uploaded from the queue (drained before a call answers);
   * `strict`: no cache, a file is uploaded when it is closed, and only written sequentially.
   */
  syncMode: 'write_back' | 'strict';
}

/** Whether a call's writes are in the bucket: all of them, some still uploading, or some that failed. */
export type StorageSync =
  | { status: 'synced' }
  | { status: 'pending'; files: string[] }
  | { status: 'failed'; files: string[]; reason: string };

/** A mount in use by one call. */
export interface BucketMountLease {
  /** The mount's directory on the host: the bucket below its prefix. */
  readonly root: string;
  /**
   * Waits until the files below `path` (relative to `root`, "" for all) that wait in the upload queue are uploaded,
   * hurrying them, for at most `budgetMs`.
   */
  drain(path: string, budgetMs: number): Promise<StorageSync>;
  /** Ends this use; the mount stays for others and is unmounted once unused for a while. */
  release(): void;
}

/** A bucket that cannot be mounted or reached: calls needing it answer 503 before any code runs. */
export class BucketUnavailableError extends Error {
  override readonly name = 'BucketUnavailableError';
}

export interface BucketMountsOptions {
  /** The rclone program (>= 1.68: the upload queue's remote control commands). */
  rclone: string;
  /** Where mount points, control sockets and upload caches go; only this server uses it. */
  directory: string;
  /** The owner files show: the sandbox user, on the host. */
  owner: { uid: number; gid: number };
  /** How long a mount may take to come up. @default 10 s */
  startTimeoutMs?: number;
  /** How long an unused mount stays. @default 5 min */
  idleMs?: number;
  /** How long a listing is trusted within a call. @default 1 s */
  freshnessMs?: number;
}

/** Queue items are polled this often while draining. */
const DRAIN_POLL_MS = 5;
/**
 * A closed file enters the upload queue only once rclone has handled the kernel's release of it, which the close does
 * not wait for: measured up to 11 ms later on this 2-core machine under load. A call's paths count as drained when no
 * file of them was queued for this long.
 */
const DRAIN_SETTLE_MS = 25;
const REMOTE_CONTROL_TIMEOUT_MS = 10_000;
/** A bucket that has not answered a call's listing by then counts as down: the call waiting for it gets 503. */
const PROBE_TIMEOUT_MS = 3_000;

interface QueueItem {
  id: number;
  name: string;
  expiry: number;
  tries: number;
  uploading: boolean;
}

/**
 * rclone mounts of storage connections (docs/decisions/0022-storage-mounts.md): one per bucket and prefix, started
 * on first use, shared by the calls that use it, restarted when its process has died, unmounted when unused. The
 * connection's credentials exist only in the rclone process's environment. Each mount is remote-controlled over a
 * Unix socket: a call first lists its directories afresh (which also tells whether the bucket answers), and the upload
 * queue is drained before it answers.
 */
export class BucketMounts {
  readonly #options: BucketMountsOptions;
  readonly #mounts = new Map<string, BucketMount>();

  constructor(options: BucketMountsOptions) {
    this.#options = options;
  }

  /** Unmounts what a killed earlier run left below the directory (its rclone processes exit with their mounts). */
  async start(): Promise<void> {
    await mkdir(this.#options.directory, { recursive: true, mode: 0o700 });
    for (const mountPoint of await mountPointsBelow(this.#options.directory)) await detach(mountPoint);
    await rm(join(this.#options.directory, 'mounts'), { recursive: true, force: true });
  }

  /**
   * The mount of `spec`, mounted if it is not, with the directories down to `path` (the call's, below the mount's
   * root) listed afresh; rejects with BucketUnavailableError when the bucket cannot be mounted or does not answer.
   */
  async acquire(spec: BucketMountSpec, path: string): Promise<BucketMountLease> {
    const key = mountKey(spec);
    let mount = this.#mounts.get(key);
    if (!mount?.alive) {
      mount = new BucketMount(spec, key, this.#options, (gone) => {
        if (this.#mounts.get(key) === gone) this.#mounts.delete(key);
      });
      this.#mounts.set(key, mount);
    }
    return mount.lease(path);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#mounts.values()].map((mount) => mount.stop()));
    this.#mounts.clear();
    // Mounts whose rclone died are no longer in the map, but still in the mount table.
    for (const mountPoint of await mountPointsBelow(this.#options.directory)) await detach(mountPoint);
  }
}

/** Mounts differ when anything rclone is given differs, credentials included (only their digest is kept). */
function mountKey(spec: BucketMountSpec): string {
  const environment = Object.entries(spec.environment).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256')
    .update(JSON.stringify([spec.remotePath, spec.readOnly, spec.syncMode, environment]))
    .digest('hex')
    .slice(0, 16);
}

class BucketMount {
  readonly #spec: BucketMountSpec;
  readonly #options: BucketMountsOptions;
  readonly #onGone: (mount: BucketMount) => void;
  readonly root: string;
  readonly #socket: string;
  readonly #cache: string;
  #process: ChildProcess | undefined;
  #started: Promise<void> | undefined;
  #stderr = '';
  #users = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #exited = false;

  constructor(spec: BucketMountSpec, key: string, options: BucketMountsOptions, onGone: (mount: BucketMount) => void) {
    this.#spec = spec;
    this.#options = options;
    this.#onGone = onGone;
    this.root = join(options.directory, 'mounts', key);
    this.#socket = join(options.directory, 'mounts', `${key}.sock`);
    // Kept across restarts of the mount and of the server: rclone uploads what a dead process left queued there.
    this.#cache = join(options.directory, 'cache', key);
  }

  get alive(): boolean {
    return !this.#exited;
  }

  async lease(path: string): Promise<BucketMountLease> {
    this.#users++;
    clearTimeout(this.#idleTimer);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#users--;
      if (this.#users === 0) this.#idleTimer = setTimeout(() => void this.stop(), this.#options.idleMs ?? 300_000).unref();
    };
    try {
      this.#started ??= this.#start();
      await this.#started;
      await this.#refresh(path);
      // Below the call's path, cached listings are dropped (in memory: no request), to be read again when opened.
      await this.#remoteControl('vfs/forget');
    } catch (error) {
      release();
      throw error instanceof BucketUnavailableError ? error : new BucketUnavailableError(`${this.#spec.label}: ${(error as Error).message}`);
    }
    return { root: this.root, drain: (within, budgetMs) => this.#drain(within, budgetMs), release };
  }

  async #start(): Promise<void> {
    // A mount whose rclone died answers ENOTCONN until it is detached.
    await detach(this.root);
    await mkdir(this.root, { recursive: true, mode: 0o755 });
    await mkdir(this.#cache, { recursive: true, mode: 0o700 });
    await rm(this.#socket, { force: true });
    const { owner } = this.#options;
    const argv = [
      'mount',
      this.#spec.remotePath,
      this.root,
      '--config', '/dev/null',
      '--devname', 'airlock',
      '--allow-other',
      '--uid', String(owner.uid),
      '--gid', String(owner.gid),
      '--umask', '022',
      // Listings older than this are read again from the bucket, for long calls; a call lists its path first anyway.
      '--dir-cache-time', `${this.#options.freshnessMs ?? 1_000}ms`,
      '--cache-dir', this.#cache,
      // Write-back: a closed file waits in the queue (drain hurries a call's files), and a failed upload stays there,
      // retried and visible; with 0s rclone uploads as the file is released and forgets a failure but for its log.
      ...(this.#spec.syncMode === 'strict' ? ['--vfs-cache-mode', 'off'] : ['--vfs-cache-mode', 'writes', '--vfs-write-back', '5s']),
      ...(this.#spec.readOnly ? ['--read-only'] : []),
      '--rc',
      '--rc-addr', `unix://${this.#socket}`,
      '--rc-no-auth',
      '--log-level', 'NOTICE',
      // A provider that does not answer fails reads in seconds, not after rclone's usual ten attempts with back-off.
      '--low-level-retries', '3',
    ];
    const child = spawn(this.#options.rclone, argv, {
      // Nothing of the server's environment: the remote's variables, and a PATH to find fusermount.
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...this.#spec.environment },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#process = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (this.#stderr = (this.#stderr + chunk).slice(-4096)));
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        this.#exited = true;
        this.#onGone(this);
        resolve();
      }),
    );
    // rclone missing or not executable: no exit follows.
    child.once('error', (error) => {
      this.#stderr += error.message;
      this.#exited = true;
      this.#onGone(this);
    });
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 10_000);
    for (;;) {
      if (this.#exited) throw new BucketUnavailableError(`${this.#spec.label}: rclone could not mount it: ${lastLine(this.#stderr)}`);
      if ((await mountPointsBelow(this.root)).includes(this.root) && (await this.#remoteControl('core/pid').then(() => true, () => false))) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new BucketUnavailableError(`${this.#spec.label}: rclone did not mount it within ${this.#options.startTimeoutMs ?? 10_000} ms`);
      }
      await Promise.race([exited, sleep(10)]);
    }
  }

  /**
   * Lists again, from the bucket, each directory from the mount's root down to the call's `path` (one listing per
   * level, the root's alone for a call of the whole mount): the call sees what was written before it, and a bucket
   * that does not answer within PROBE_TIMEOUT_MS fails the call before its code runs. (Forgetting the cached listings
   * instead costs no request, but rclone keeps a directory with entries it made and has not seen listed yet.)
   */
  async #refresh(path: string): Promise<void> {
    const segments = path === '' ? [] : path.split('/');
    const directories = ['', ...segments.map((_, index) => segments.slice(0, index + 1).join('/'))];
    for (const directory of directories) {
      let answer: { result?: Record<string, string> };
      try {
        answer = (await this.#remoteControl('vfs/refresh', directory === '' ? {} : { dir: directory }, PROBE_TIMEOUT_MS)) as typeof answer;
      } catch (error) {
        throw new BucketUnavailableError(`${this.#spec.label}: the bucket does not answer: ${(error as Error).message}`);
      }
      const status = Object.values(answer.result ?? {})[0] ?? 'OK';
      // A directory the call will make (or that a read-only call will not find) ends the walk.
      if (/file does not exist|not found/i.test(status)) return;
      if (status !== 'OK') throw new BucketUnavailableError(`${this.#spec.label}: the bucket does not answer: ${status}`);
    }
  }

  async #drain(path: string, budgetMs: number): Promise<StorageSync> {
    if (this.#spec.readOnly || this.#spec.syncMode === 'strict') return { status: 'synced' };
    const deadline = Date.now() + budgetMs;
    const mine = (item: QueueItem) => path === '' || item.name === path || item.name.startsWith(`${path}/`);
    let emptySince: number | undefined;
    let waiting: QueueItem[] = [];
    while (Date.now() <= deadline) {
      if (this.#exited) return { status: 'failed', files: waiting.map((item) => item.name), reason: `the mount of ${this.#spec.label} stopped` };
      let queue: QueueItem[];
      try {
        queue = ((await this.#remoteControl('vfs/queue')) as { queue?: QueueItem[] }).queue ?? [];
      } catch (error) {
        return { status: 'failed', files: waiting.map((item) => item.name), reason: `the upload queue of ${this.#spec.label} cannot be read: ${(error as Error).message}` };
      }
      waiting = queue.filter(mine);
      if (waiting.length === 0) {
        emptySince ??= Date.now();
        if (Date.now() - emptySince >= DRAIN_SETTLE_MS) return { status: 'synced' };
      } else {
        emptySince = undefined;
        // A first attempt is hurried; a failed one keeps rclone's back-off.
        for (const item of waiting) {
          if (item.tries === 0 && item.expiry > 0 && !item.uploading) {
            await this.#remoteControl('vfs/queue-set-expiry', { id: item.id, expiry: -1 }).catch(() => undefined);
          }
        }
      }
      await sleep(DRAIN_POLL_MS);
    }
    const failing = waiting.filter((item) => item.tries > 0);
    const files = waiting.map((item) => item.name).sort();
    if (failing.length > 0) {
      return {
        status: 'failed',
        files,
        reason: `${failing.length} of ${waiting.length} files failed to upload to ${this.#spec.label} and are being retried: ${lastLine(this.#stderr) || 'see the server log'}`,
      };
    }
    return { status: 'pending', files };
  }

  #remoteControl(command: string, parameters: Record<string, unknown> = {}, timeoutMs = REMOTE_CONTROL_TIMEOUT_MS): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify(parameters);
      const call = request(
        { socketPath: this.#socket, path: `/${command}`, method: 'POST', headers: { 'content-type': 'application/json' }, timeout: timeoutMs },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            const answer = text === '' ? {} : (JSON.parse(text) as { error?: string });
            if ((response.statusCode ?? 500) >= 400) reject(new Error(answer.error ?? `rclone answered ${response.statusCode}`));
            else resolve(answer);
          });
        },
      );
      call.on('timeout', () => call.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      call.on('error', reject);
      call.end(body);
    });
  }

  /** Unmounts (rclone uploads what it still holds when it can; what it cannot stays in the cache for next time). */
  async stop(): Promise<void> {
    clearTimeout(this.#idleTimer);
    this.#onGone(this);
    if (this.#process && !this.#exited) {
      const exited = new Promise((resolve) => this.#process!.once('exit', resolve));
      await detach(this.root);
      await Promise.race([exited, sleep(5_000)]);
      if (!this.#exited) this.#process.kill('SIGKILL');
    }
    this.#exited = true;
  }
}

/** Mount points at or below `directory`, from this process's mount table. */
async function mountPointsBelow(directory: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((path) => path === directory || path.startsWith(`${directory}/`));
}

/** Lazily unmounts a FUSE mount (nothing when there is none). */
async function detach(mountPoint: string): Promise<void> {
  await run('fusermount', ['-u', '-z', mountPoint]).catch(() => undefined);
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
