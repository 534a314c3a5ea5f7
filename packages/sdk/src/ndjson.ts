import { AirlockError } from './errors.js';

/**
 * Newline-delimited JSON read incrementally: bytes go in as they arrive, whole values come out. A line may span any
 * number of chunks and a multi-byte character may be split between two.
 */
export class NdjsonDecoder {
  readonly #decoder = new TextDecoder('utf-8');
  #buffered = '';
  #scanned = 0;

  /** The values completed by this chunk. */
  push(chunk: Uint8Array): unknown[] {
    const text = this.#buffered + this.#decoder.decode(chunk, { stream: true });
    const values: unknown[] = [];
    let start = 0;
    for (let newline = text.indexOf('\n', this.#scanned); newline >= 0; newline = text.indexOf('\n', start)) {
      const value = parseLine(text.slice(start, newline));
      if (value !== undefined) values.push(value);
      start = newline + 1;
    }
    this.#buffered = text.slice(start);
    // A long line arriving in many chunks is searched for its newline once, not once per chunk.
    this.#scanned = this.#buffered.length;
    return values;
  }

  /** The last value, when the input ended without a newline after it. */
  end(): unknown[] {
    const rest = this.#buffered + this.#decoder.decode();
    this.#buffered = '';
    this.#scanned = 0;
    const value = parseLine(rest);
    return value === undefined ? [] : [value];
  }
}

function parseLine(line: string): unknown {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    throw new AirlockError(`the execution stream sent a line that is not JSON: ${trimmed.slice(0, 200)}`);
  }
}
