import type { Logger } from '../shared/logger.js';

/** How many of a build's or import's last lines answers show. */
const KEPT_LINES = 20;
/** The server log gets at most one progress line per image this often (skopeo and mmdebstrap write many). */
const LOG_INTERVAL_MS = 2000;

interface Work {
  lines: string[];
  loggedAt: number;
  /** The newest line not yet in the log. */
  unlogged: string | null;
}

/** The progress of the builds and imports on this server: the last lines of each image's latest, and a throttled log. */
export class ImageProgress {
  readonly #logger: Logger;
  readonly #work = new Map<string, Work>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  start(name: string): void {
    this.#work.set(name, { lines: [], loggedAt: 0, unlogged: null });
    this.#logger.info('image work started', { image: name });
  }

  add(name: string, line: string): void {
    let work = this.#work.get(name);
    if (!work) {
      work = { lines: [], loggedAt: 0, unlogged: null };
      this.#work.set(name, work);
    }
    work.lines.push(line);
    if (work.lines.length > KEPT_LINES) work.lines.shift();
    const now = Date.now();
    if (now - work.loggedAt >= LOG_INTERVAL_MS) {
      work.loggedAt = now;
      work.unlogged = null;
      this.#logger.info('image progress', { image: name, line });
    } else {
      work.unlogged = line;
    }
  }

  /** Ends the image's work: its last line goes to the log; answers keep showing its last lines (why it failed). */
  finish(name: string): void {
    const work = this.#work.get(name);
    if (work?.unlogged) this.#logger.info('image progress', { image: name, line: work.unlogged });
    if (work) work.unlogged = null;
  }

  lines(name: string): string[] {
    return [...(this.#work.get(name)?.lines ?? [])];
  }
}
