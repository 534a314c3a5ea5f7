import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { inlineText } from './inline-text.js';

const stream = (...chunks: Buffer[]) => Readable.from(chunks);

describe('inlineText', () => {
  it('returns UTF-8 text, also when a character is split across chunks', async () => {
    const bytes = Buffer.from('héllo ✓\n');
    expect(await inlineText(stream(bytes.subarray(0, 2), bytes.subarray(2)), bytes.length, 100)).toBe('héllo ✓\n');
    expect(await inlineText(stream(), 0, 100)).toBe('');
  });

  it('returns null for binary content: invalid UTF-8 or NUL bytes', async () => {
    expect(await inlineText(stream(Buffer.from([0xff, 0xfe, 0x41])), 3, 100)).toBeNull();
    expect(await inlineText(stream(Buffer.from('a\0b')), 3, 100)).toBeNull();
  });

  it('returns null without reading a file larger than the limit, and destroys its stream', async () => {
    const content = stream(Buffer.alloc(10, 'a'));
    expect(await inlineText(content, 10, 9)).toBeNull();
    expect(content.destroyed).toBe(true);
  });

  it('stops reading when the content runs past the limit its size promised', async () => {
    expect(await inlineText(stream(Buffer.alloc(6, 'a'), Buffer.alloc(6, 'b')), 5, 10)).toBeNull();
  });
});
