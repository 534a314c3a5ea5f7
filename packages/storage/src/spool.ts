import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Content written to a temporary file, with its SHA-256 digest and size, computed as it streamed. */
export interface SpooledContent {
  path: string;
  digest: string;
  size: number;
}

/**
 * Writes `content` to a new file in `directory` (flushed to disk when `flush`), hashing it on the way. On failure the
 * file is removed and the error rethrown.
 */
export async function spool(content: Readable | Buffer, directory: string, options: { flush: boolean }): Promise<SpooledContent> {
  await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, randomBytes(12).toString('hex'));
  const hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const sink = createWriteStream(path, { flags: 'wx', mode: 0o600, flush: options.flush });
  try {
    const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
    await pipeline(source, measure, sink);
    return { path, digest: hash.digest('hex'), size };
  } catch (error) {
    // The sink opens its file asynchronously: a source that fails first can end the pipeline before the file exists.
    // Once the sink has closed, its file is there to remove and nothing creates it again.
    await new Promise<void>((resolve) => (sink.closed ? resolve() : sink.once('close', () => resolve())));
    await fs.rm(path, { force: true });
    throw error;
  }
}
