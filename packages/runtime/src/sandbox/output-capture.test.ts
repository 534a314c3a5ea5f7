import { describe, expect, it } from 'vitest';
import { OutputCapture, completeUtf8Length } from './output-capture.js';

describe('OutputCapture', () => {
  it('keeps everything under the limit', () => {
    const capture = new OutputCapture(10);
    capture.append(Buffer.from('hello'));
    capture.append(Buffer.from(' you'));
    expect(capture.text()).toBe('hello you');
    expect(capture.truncated).toBe(false);
  });

  it('keeps the first bytes and flags truncation', () => {
    const capture = new OutputCapture(4);
    expect(capture.append(Buffer.from('abc')).toString()).toBe('abc');
    expect(capture.append(Buffer.from('defg')).toString()).toBe('d');
    expect(capture.append(Buffer.from('hij')).byteLength).toBe(0);
    expect(capture.text()).toBe('abcd');
    expect(capture.truncated).toBe(true);
    expect(capture.totalBytes).toBe(10);
  });

  it('never ends inside a multi-byte character', () => {
    const capture = new OutputCapture(4);
    capture.append(Buffer.from('ab€x')); // € is 3 bytes: a b E2 82 | AC x
    expect(capture.text()).toBe('ab');
    expect(capture.truncated).toBe(true);
  });
});

describe('completeUtf8Length', () => {
  it.each([
    ['', 0],
    ['abc', 3],
    ['é', 2],
    ['€', 3],
    ['😀', 4],
  ])('keeps complete text %j whole', (text, length) => {
    expect(completeUtf8Length(Buffer.from(text))).toBe(length);
  });

  it('cuts incomplete trailing sequences', () => {
    const emoji = Buffer.from('a😀');
    for (let cut = 2; cut < emoji.byteLength; cut++) {
      expect(completeUtf8Length(emoji.subarray(0, cut))).toBe(1);
    }
  });
});
