import { MIN_SECRET_LENGTH } from '@airlock/contracts';

/** What stands in the output where a secret was. */
export const REDACTED = '[REDACTED]';

/**
 * Hides secrets in a call's output: each secret as written, JSON-escaped, percent-encoded and in base64, matched
 * exactly, byte for byte. `redactStream` redacts output as it arrives in chunks, holding back only the end of a chunk
 * that could be the start of a secret; `redactText` redacts a whole text.
 */
export class OutputRedaction {
  /** The forms to hide, as latin1 strings of their UTF-8 bytes, longest first (a longer form wins over its part). */
  readonly #patterns: string[];

  constructor(secrets: readonly string[]) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (secret.length < MIN_SECRET_LENGTH) continue;
      for (const form of [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) {
        forms.add(Buffer.from(form).toString('latin1'));
      }
    }
    this.#patterns = [...forms].sort((a, b) => b.length - a.length);
  }

  get isEmpty(): boolean {
    return this.#patterns.length === 0;
  }

  /**
   * A whole text, redacted. `truncated`: the text was cut at a limit, so its end may be the start of a secret; that
   * end is redacted too.
   */
  redactText(text: string, options: { truncated?: boolean } = {}): string {
    if (this.isEmpty) return text;
    let binary = this.#replace(Buffer.from(text).toString('latin1'));
    if (options.truncated) {
      const start = this.#partialStart(binary);
      if (start < binary.length) binary = binary.slice(0, start) + REDACTED;
    }
    return Buffer.from(binary, 'latin1').toString();
  }

  /** A redactor for one stream of output chunks. */
  redactStream(): StreamRedactor {
    return new StreamRedactor((binary) => this.#replace(binary), (binary) => this.#partialStart(binary));
  }

  #replace(binary: string): string {
    let result = binary;
    for (const pattern of this.#patterns) if (result.includes(pattern)) result = result.split(pattern).join(REDACTED);
    return result;
  }

  /** Where the longest end of `binary` that is the beginning of a pattern (not a whole one) starts; its length if none. */
  #partialStart(binary: string): number {
    const longest = this.#patterns[0]?.length ?? 0;
    for (let start = Math.max(0, binary.length - longest + 1); start < binary.length; start++) {
      const end = binary.slice(start);
      if (this.#patterns.some((pattern) => pattern.length > end.length && pattern.startsWith(end))) return start;
    }
    return binary.length;
  }
}

/** Redacts one stream: `push` returns what may be passed on now, `end` the rest. */
export class StreamRedactor {
  readonly #replace: (binary: string) => string;
  readonly #partialStart: (binary: string) => number;
  #held = '';

  constructor(replace: (binary: string) => string, partialStart: (binary: string) => number) {
    this.#replace = replace;
    this.#partialStart = partialStart;
  }

  push(chunk: Buffer): Buffer {
    const binary = this.#replace(this.#held + chunk.toString('latin1'));
    const start = this.#partialStart(binary);
    this.#held = binary.slice(start);
    return Buffer.from(binary.slice(0, start), 'latin1');
  }

  /** What is held back, once the stream has ended: not a whole secret, so it is passed on as it is. */
  end(): Buffer {
    const rest = this.#held;
    this.#held = '';
    return Buffer.from(rest, 'latin1');
  }
}
