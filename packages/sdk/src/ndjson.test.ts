import { describe, expect, it } from 'vitest';
import { AirlockError } from './errors.js';
import { NdjsonDecoder } from './ndjson.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('NdjsonDecoder', () => {
  it('returns each value once its line is complete, however the lines are cut into chunks', () => {
    const text = '{"seq":0,"type":"status"}\n{"seq":1,"data":"é✓ 🎉"}\n{"seq":2}\n';
    const encoded = bytes(text);
    for (let size = 1; size <= encoded.length; size++) {
      const decoder = new NdjsonDecoder();
      const values: unknown[] = [];
      for (let offset = 0; offset < encoded.length; offset += size) values.push(...decoder.push(encoded.subarray(offset, offset + size)));
      values.push(...decoder.end());
      expect(values, `chunks of ${size} bytes`).toEqual([{ seq: 0, type: 'status' }, { seq: 1, data: 'é✓ 🎉' }, { seq: 2 }]);
    }
  });

  it('holds a partial line until its newline arrives', () => {
    const decoder = new NdjsonDecoder();
    expect(decoder.push(bytes('{"a":'))).toEqual([]);
    expect(decoder.push(bytes('1}\n{"b"'))).toEqual([{ a: 1 }]);
    expect(decoder.push(bytes(':2}\n'))).toEqual([{ b: 2 }]);
  });

  it('skips blank lines and CRLF endings; a last line without a newline comes out at the end', () => {
    const decoder = new NdjsonDecoder();
    expect(decoder.push(bytes('\n{"a":1}\r\n\n'))).toEqual([{ a: 1 }]);
    expect(decoder.push(bytes('{"b":2}'))).toEqual([]);
    expect(decoder.end()).toEqual([{ b: 2 }]);
    expect(decoder.end()).toEqual([]);
  });

  it('a long line over many chunks is decoded whole', () => {
    const decoder = new NdjsonDecoder();
    const data = 'x'.repeat(100_000);
    const line = bytes(`${JSON.stringify({ data })}\n`);
    const values: unknown[] = [];
    for (let offset = 0; offset < line.length; offset += 1000) values.push(...decoder.push(line.subarray(offset, offset + 1000)));
    expect(values).toEqual([{ data }]);
  });

  it('a line that is not JSON is an AirlockError quoting it', () => {
    const decoder = new NdjsonDecoder();
    expect(() => decoder.push(bytes('<html>\n'))).toThrow(AirlockError);
    expect(() => new NdjsonDecoder().push(bytes('oops\n'))).toThrow(/not JSON: oops/);
  });
});
