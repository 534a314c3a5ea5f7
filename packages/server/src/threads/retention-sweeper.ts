import type { Logger } from '../shared/logger.js';
import type { SweepResult, ThreadService } from './thread-service.js';

/** Runs the threads' retention sweep every `intervalSeconds`, and on demand. */
export class RetentionSweeper {
  readonly #threads: ThreadService;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;

  constructor(options: { threads: ThreadService; intervalSeconds: number; logger: Logger }) {
    this.#threads = options.threads;
    this.#logger = options.logger;
    this.#timer = setInterval(
      () => void this.sweep().catch((error: unknown) => this.#logger.warn('retention sweep failed', { error: String(error) })),
      options.intervalSeconds * 1000,
    );
    this.#timer.unref();
  }

  async sweep(): Promise<SweepResult> {
    const result = await this.#threads.sweep();
    if (result.expiredThreads + result.deletedBlobs > 0) this.#logger.info('retention sweep', { ...result });
    return result;
  }

  /** Stops the timer and waits for the thread work in flight. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#threads.idle();
  }
}
