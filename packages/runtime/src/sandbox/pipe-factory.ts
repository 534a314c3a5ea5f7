import { spawn } from 'node:child_process';
import { constants, promises as fs, closeSync, openSync, unlinkSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** A pipe between the server and one sandbox: the server keeps `hostFd`, the sandbox inherits `sandboxFd`. */
export interface SandboxPipe {
  hostFd: number;
  sandboxFd: number;
}

/**
 * Makes real pipes (not socket pairs) whose inode belongs to the sandbox user, so code inside the sandbox can reopen
 * them through /dev/stdout, /dev/stderr and /dev/fd/N. Node has no pipe(2), so the pipes are named pipes created in
 * batches off the request path with mkfifo(1), opened, then unlinked at once.
 */
export class PipeFactory {
  readonly #directory: string;
  readonly #ownerUid: number;
  readonly #ownerGid: number;
  readonly #batchSize: number;
  readonly #stock: string[] = [];
  #refill: Promise<void> | undefined;
  #counter = 0;

  constructor(options: { directory: string; ownerUid: number; ownerGid: number; batchSize?: number }) {
    this.#directory = options.directory;
    this.#ownerUid = options.ownerUid;
    this.#ownerGid = options.ownerGid;
    this.#batchSize = options.batchSize ?? 64;
    rmSync(this.#directory, { recursive: true, force: true });
    mkdirSync(this.#directory, { recursive: true, mode: 0o700 });
  }

  /** A pipe the sandbox writes (stdout, stderr) and the server reads without blocking. */
  async sandboxWritable(): Promise<SandboxPipe> {
    const path = await this.#take();
    try {
      const hostFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      const sandboxFd = openSync(path, constants.O_WRONLY);
      return { hostFd, sandboxFd };
    } finally {
      unlinkSync(path);
    }
  }

  /** A pipe the server writes and the sandbox reads with ordinary blocking reads until end of file. */
  async sandboxReadable(): Promise<SandboxPipe> {
    const path = await this.#take();
    try {
      // A throwaway writer lets the blocking-mode read end open without waiting; closing it leaves the server as
      // the only writer, so the sandbox sees end of file once the server closes.
      const placeholder = openSync(path, constants.O_RDWR);
      const sandboxFd = openSync(path, constants.O_RDONLY);
      const hostFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      closeSync(placeholder);
      return { hostFd, sandboxFd };
    } finally {
      unlinkSync(path);
    }
  }

  /** Creates a batch ahead of demand; later calls reuse one refill in flight. */
  prefill(): Promise<void> {
    this.#refill ??= this.#createBatch().finally(() => {
      this.#refill = undefined;
    });
    return this.#refill;
  }

  async close(): Promise<void> {
    await this.#refill?.catch(() => undefined);
    await fs.rm(this.#directory, { recursive: true, force: true });
  }

  async #take(): Promise<string> {
    while (this.#stock.length === 0) await this.prefill();
    if (this.#stock.length < this.#batchSize / 4) void this.prefill().catch(() => undefined);
    return this.#stock.pop()!;
  }

  async #createBatch(): Promise<void> {
    const paths = Array.from({ length: this.#batchSize }, () => join(this.#directory, `p${this.#counter++}`));
    await new Promise<void>((resolve, reject) => {
      const child = spawn('mkfifo', ['-m', '0600', '--', ...paths], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`mkfifo failed (exit ${code}): ${stderr.trim()}`)),
      );
    });
    for (const path of paths) chownSync(path, this.#ownerUid, this.#ownerGid);
    this.#stock.push(...paths);
  }
}
