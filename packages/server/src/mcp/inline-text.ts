import type { Readable } from 'node:stream';

/**
 * A file's content as text when it is valid UTF-8 without NUL bytes and at most `maxBytes` long; null otherwise.
 * The stream is always consumed or destroyed.
 */
export async function inlineText(content: Readable, size: number, maxBytes: number): Promise<string | null> {
  if (size > maxBytes) {
    content.destroy();
    return null;
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of content) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    length += buffer.length;
    if (length > maxBytes) {
      content.destroy();
      return null;
    }
    chunks.push(buffer);
  }
  const bytes = Buffer.concat(chunks);
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
