/**
 * Keeps the first `limitBytes` of a stream and counts the rest, so a sandbox can write without bound while the
 * server holds a fixed amount of memory.
 */
export class OutputCapture {
  readonly #limitBytes: number;
  readonly #chunks: Buffer[] = [];
  #keptBytes = 0;
  #totalBytes = 0;

  constructor(limitBytes: number) {
    this.#limitBytes = limitBytes;
  }

  /** Appends a chunk; returns the part that was kept (empty once the limit is reached). */
  append(chunk: Buffer): Buffer {
    this.#totalBytes += chunk.byteLength;
    const room = this.#limitBytes - this.#keptBytes;
    if (room <= 0) return chunk.subarray(0, 0);
    const kept = chunk.byteLength <= room ? chunk : chunk.subarray(0, room);
    this.#chunks.push(kept);
    this.#keptBytes += kept.byteLength;
    return kept;
  }

  get truncated(): boolean {
    return this.#totalBytes > this.#keptBytes;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** The kept bytes as UTF-8; a multi-byte character cut by the limit is dropped rather than mangled. */
  text(): string {
    const bytes = Buffer.concat(this.#chunks, this.#keptBytes);
    return bytes.subarray(0, completeUtf8Length(bytes)).toString('utf8');
  }
}

/** Length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence. */
export function completeUtf8Length(bytes: Buffer): number {
  const end = bytes.byteLength;
  for (let back = 1; back <= Math.min(3, end); back++) {
    const byte = bytes[end - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const expected = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return expected > back ? end - back : end;
  }
  return end;
}
