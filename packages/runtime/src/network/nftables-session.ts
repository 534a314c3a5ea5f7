import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** How long a command may take before the session is taken for out of step. */
const ANSWER_TIMEOUT_MS = 5_000;

/**
 * One `nft -j -i` process kept for the server's life: commands go to its standard input and list commands answer one
 * line of JSON each, in about a third of a millisecond, where starting `nft` per command costs milliseconds.
 * Commands run one at a time, in order.
 */
export class NftablesSession {
  readonly #syncCommand: string;
  #process: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  #buffered = '';
  #errors = '';
  #waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  #queue: Promise<unknown> = Promise.resolve();

  /** `syncCommand` lists something small that always exists: it marks the end of a command that prints nothing. */
  constructor(syncCommand: string) {
    this.#syncCommand = syncCommand;
  }

  start(): void {
    const child = spawn('nft', ['-j', '-i'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.#buffered += chunk;
      for (let end = this.#buffered.indexOf('\n'); end >= 0; end = this.#buffered.indexOf('\n')) {
        const line = this.#buffered.slice(0, end);
        this.#buffered = this.#buffered.slice(end + 1);
        this.#waiting.shift()?.resolve(line);
      }
    });
    child.stderr.on('data', (chunk: string) => (this.#errors += chunk));
    child.on('exit', () => {
      if (this.#process === child) this.#process = undefined;
      for (const waiter of this.#waiting.splice(0)) waiter.reject(new Error(`nft exited: ${this.#errors.trim()}`));
    });
    child.stdin.on('error', () => undefined);
    this.#process = child;
  }

  /** The JSON a list command prints. */
  list(command: string): Promise<unknown> {
    return this.#serialize(async () => JSON.parse(await this.#send(command)) as unknown);
  }

  /** Runs a command that prints nothing (add, delete); rejects with nft's message when it fails. */
  run(command: string): Promise<void> {
    return this.#serialize(async () => {
      this.#errors = '';
      this.#process?.stdin.write(`${command}\n`);
      await this.#send(this.#syncCommand);
      if (this.#errors.trim() !== '') throw new Error(`nft ${command}: ${this.#errors.trim()}`);
    });
  }

  close(): void {
    this.#process?.stdin.end();
    this.#process?.kill();
    this.#process = undefined;
  }

  #send(command: string): Promise<string> {
    const child = this.#process;
    if (!child) return Promise.reject(new Error('the nft session is not running'));
    return new Promise((resolve, reject) => {
      // A command nft refuses prints no line: the session is started again so that answers stay in step.
      const timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((waiter) => waiter.resolve !== done);
        this.close();
        this.start();
        reject(new Error(`nft ${command}: no answer within ${ANSWER_TIMEOUT_MS} ms: ${this.#errors.trim()}`));
      }, ANSWER_TIMEOUT_MS);
      const done = (line: string): void => {
        clearTimeout(timer);
        resolve(line);
      };
      this.#waiting.push({ resolve: done, reject: (error) => (clearTimeout(timer), reject(error)) });
      child.stdin.write(`${command}\n`);
    });
  }

  #serialize<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work, work);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
