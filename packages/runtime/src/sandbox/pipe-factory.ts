import { execFile } from 'node:child_process';
import { chmodSync, constants, promises as fs, openSync, unlinkSync, chownSync, writeFileSync, statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fsExtras } from '../home/fs-extras.js';

const run = promisify(execFile);

/** statfs(2) f_type of the file systems whose inodes live in memory. */
const MEMORY_FILE_SYSTEMS = new Set([0x01021994 /* tmpfs */, 0x858458f6 /* ramfs */]);

/** A named pipe between the server and one sandbox: the server holds `hostFd`; the spawner opens `path`. */
export interface SandboxPipe {
  hostFd: number;
  path: string;
}

/** A stub's four pipes: stdout, stderr and events (the sandbox writes them) and the request (it reads it). */
export type StubPipes = readonly [stdout: SandboxPipe, stderr: SandboxPipe, request: SandboxPipe, events: SandboxPipe];

/**
 * Makes real pipes (not socket pairs) whose inode belongs to the sandbox user, so code inside the sandbox can reopen
 * them through /dev/stdout, /dev/stderr and /dev/fd/N. They are named pipes made when asked for (mknod(2), a few
 * microseconds); the server opens its end, the spawner opens the sandbox's end by path, then the name is removed.
 */
export class PipeFactory {
  readonly #directory: string;
  readonly #ownerUid: number;
  readonly #ownerGid: number;
  #counter = 0;

  /**
   * `mode`: of the directory; 0700 (the spawner, root, opens the sandboxes' ends), or 0711 for a directory that a
   * process running as the owner opens pipes in by name (fork templates). The directory is emptied of what an earlier
   * run left, and made a tmpfs of its own unless it already is one: every execution makes and removes four names
   * there, and a disk file system pays for each (ext4 scans its inode bitmap past recently deleted inodes, which took
   * a tenth of this machine's CPU under load).
   */
  static async create(options: { directory: string; ownerUid: number; ownerGid: number; mode?: number }): Promise<PipeFactory> {
    const { directory } = options;
    const mode = options.mode ?? 0o700;
    await fs.mkdir(directory, { recursive: true, mode });
    for (const entry of await fs.readdir(directory)) await fs.rm(join(directory, entry), { recursive: true, force: true });
    if (!isInMemory(directory)) {
      const data = `mode=${mode.toString(8).padStart(4, '0')},nosuid,nodev,noexec,size=64m`;
      await run('mount', ['-t', 'tmpfs', '-o', data, 'airlock-pipes', directory]);
    }
    chmodSync(directory, mode);
    return new PipeFactory(options);
  }

  private constructor(options: { directory: string; ownerUid: number; ownerGid: number }) {
    this.#directory = options.directory;
    this.#ownerUid = options.ownerUid;
    this.#ownerGid = options.ownerGid;
  }

  get directory(): string {
    return this.#directory;
  }

  /** A pipe the sandbox writes (stdout, stderr, events) and the server reads without blocking. */
  async sandboxWrites(): Promise<SandboxPipe> {
    const path = this.#make();
    return { hostFd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), path };
  }

  /**
   * A pipe the server writes and the sandbox reads with ordinary blocking reads until end of file. The server's end
   * is opened read-write so that the sandbox's read-only open does not wait; once the server closes it, the pipe
   * has no writer left and the sandbox reads end of file.
   */
  async sandboxReads(): Promise<SandboxPipe> {
    const path = this.#make();
    return { hostFd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), path };
  }

  /** A stub's four pipes, each added to `made` once open (so a caller can close what was made when one fails). */
  async stubPipes(made: SandboxPipe[]): Promise<StubPipes> {
    for (const reads of [false, false, true, false]) made.push(reads ? await this.sandboxReads() : await this.sandboxWrites());
    const [stdout, stderr, request, events] = made.slice(-4) as [SandboxPipe, SandboxPipe, SandboxPipe, SandboxPipe];
    return [stdout, stderr, request, events];
  }

  /**
   * A file of NUL-separated arguments for `bwrap --args FD`, readable by root only: the spawner opens it before it
   * drops privileges. Options passed so stay out of bubblewrap's command line, which the sandbox can read as
   * /proc/1/cmdline. Remove it with {@link unlink} once the spawner has opened it.
   */
  argumentFile(args: string[]): { path: string } {
    const path = join(this.#directory, `a${this.#counter++}`);
    writeFileSync(path, args.map((arg) => `${arg}\0`).join(''), { mode: 0o600 });
    return { path };
  }

  /** Removes the pipe's (or file's) name once both ends are open (or the spawn failed); the open ends stay usable. */
  unlink(pipe: { path: string }): void {
    try {
      unlinkSync(pipe.path);
    } catch {
      // already removed
    }
  }

  /** Removes the directory, detaching its tmpfs first (lazily: a pipe still open keeps it until it is closed). */
  async close(): Promise<void> {
    if (isMountPoint(this.#directory)) await run('umount', ['--lazy', this.#directory]);
    await fs.rm(this.#directory, { recursive: true, force: true });
  }

  /** A new named pipe that only the owner may open. */
  #make(): string {
    const path = join(this.#directory, `p${this.#counter++}`);
    fsExtras().makeFifo(path);
    chownSync(path, this.#ownerUid, this.#ownerGid);
    return path;
  }
}

function isInMemory(directory: string): boolean {
  return MEMORY_FILE_SYSTEMS.has(statfsSync(directory).type);
}

function isMountPoint(directory: string): boolean {
  try {
    return statSync(directory).dev !== statSync(dirname(directory)).dev;
  } catch {
    return false;
  }
}
