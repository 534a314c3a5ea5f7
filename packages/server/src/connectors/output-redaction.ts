import { MIN_SECRET_LENGTH } from '@airlock/contracts';

/** What stands in the output where a secret was. */
export const REDACTED = '[REDACTED]';

const REDACTED_BYTES = Buffer.from(REDACTED);

/**
 * Hides secrets in a call's output: each secret as written, JSON-escaped, percent-encoded and in base64, matched
 * exactly, byte for byte (the leftmost match first, the longest form where several start there). `redactStream`
 * redacts output as it arrives in chunks, holding back only the end of a chunk that could be the start of a secret, and
 * passes a chunk with no secret in it on as it is; `redactText` redacts a whole text.
 */
export class OutputRedaction {
  /** The forms to hide, as UTF-8 bytes. */
  readonly #patterns: Buffer[];
  readonly #longest: number;

  constructor(secrets: readonly string[]) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (secret.length < MIN_SECRET_LENGTH) continue;
      for (const form of [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) forms.add(form);
    }
    this.#patterns = [...forms].map((form) => Buffer.from(form));
    this.#longest = Math.max(0, ...this.#patterns.map((pattern) => pattern.length));
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
    let bytes = this.#replace(Buffer.from(text));
    if (options.truncated) {
      const start = this.#partialStart(bytes);
      if (start < bytes.length) bytes = Buffer.concat([bytes.subarray(0, start), REDACTED_BYTES]);
    }
    return bytes.toString();
  }

  /** A redactor for one stream of output chunks. */
  redactStream(): StreamRedactor {
    return new StreamRedactor((bytes) => this.#replace(bytes), (bytes) => this.#partialStart(bytes));
  }

  /** `bytes` with every match replaced; `bytes` itself when there is none. */
  #replace(bytes: Buffer): Buffer {
    const parts: Buffer[] = [];
    let from = 0;
    for (;;) {
      let at = -1;
      let length = 0;
      for (const pattern of this.#patterns) {
        const found = bytes.indexOf(pattern, from);
        if (found >= 0 && (at < 0 || found < at || (found === at && pattern.length > length))) {
          at = found;
          length = pattern.length;
        }
      }
      if (at < 0) break;
      parts.push(bytes.subarray(from, at), REDACTED_BYTES);
      from = at + length;
    }
    if (parts.length === 0) return bytes;
    parts.push(bytes.subarray(from));
    return Buffer.concat(parts);
  }

  /** Where the longest end of `bytes` that is the beginning of a pattern (not a whole one) starts; its length if none. */
  #partialStart(bytes: Buffer): number {
    for (let start = Math.max(0, bytes.length - this.#longest + 1); start < bytes.length; start++) {
      const rest = bytes.length - start;
      const begins = (pattern: Buffer) => pattern.length > rest && pattern[0] === bytes[start] && pattern.subarray(0, rest).equals(bytes.subarray(start));
      if (this.#patterns.some(begins)) return start;
    }
    return bytes.length;
  }
}

/** Redacts one stream: `push` returns what may be passed on now, `end` the rest. */
export class StreamRedactor {
  readonly #replace: (bytes: Buffer) => Buffer;
  readonly #partialStart: (bytes: Buffer) => number;
  #held: Buffer = Buffer.alloc(0);

  constructor(replace: (bytes: Buffer) => Buffer, partialStart: (bytes: Buffer) => number) {
    this.#replace = replace;
    this.#partialStart = partialStart;
  }

  push(chunk: Buffer): Buffer {
    const bytes = this.#replace(this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk);
    const start = this.#partialStart(bytes);
    this.#held = Buffer.from(bytes.subarray(start));
    return bytes.subarray(0, start);
  }

  /** What is held back, once the stream has ended: not a whole secret, so it is passed on as it is. */
  end(): Buffer {
    const rest = this.#held;
    this.#held = Buffer.alloc(0);
    return rest;
  }
}
