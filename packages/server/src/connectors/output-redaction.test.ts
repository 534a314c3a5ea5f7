import { describe, expect, it } from 'vitest';
import { OutputRedaction, REDACTED } from './output-redaction.js';

const SECRET = 'hunter2-passphrase';

function streamed(redaction: OutputRedaction, chunks: string[]): string {
  const stream = redaction.redactStream();
  const out = chunks.map((chunk) => stream.push(Buffer.from(chunk)));
  return Buffer.concat([...out, stream.end()]).toString();
}

describe('OutputRedaction', () => {
  const redaction = new OutputRedaction([SECRET, 'p@ss:w/rd "q" 1']);

  it('hides a secret as written, JSON-escaped, percent-encoded and in base64', () => {
    const base64 = Buffer.from(SECRET).toString('base64');
    expect(redaction.redactText(`a ${SECRET} b ${base64} c`)).toBe(`a ${REDACTED} b ${REDACTED} c`);
    expect(redaction.redactText(`${encodeURIComponent('p@ss:w/rd "q" 1')} ${JSON.stringify('p@ss:w/rd "q" 1')}`)).toBe(`${REDACTED} "${REDACTED}"`);
  });

  it('hides a secret split across chunks at every position, and passes other text on at once', () => {
    const text = `before ${SECRET} after`;
    for (let cut = 1; cut < text.length; cut++) {
      expect(streamed(redaction, [text.slice(0, cut), text.slice(cut)])).toBe(`before ${REDACTED} after`);
    }
    const stream = redaction.redactStream();
    expect(stream.push(Buffer.from('plain line\n')).toString()).toBe('plain line\n');
    // A chunk ending with what may begin a secret holds that end back until the next chunk shows it is not one.
    expect(stream.push(Buffer.from('x hunt')).toString()).toBe('x ');
    expect(stream.push(Buffer.from('ing\n')).toString()).toBe('hunting\n');
  });

  it('hides a secret arriving one byte at a time, and keeps multi-byte characters whole', () => {
    const text = `é ${SECRET} ü`;
    const stream = redaction.redactStream();
    const out = [...Buffer.from(text)].map((byte) => stream.push(Buffer.from([byte])));
    expect(Buffer.concat([...out, stream.end()]).toString()).toBe(`é ${REDACTED} ü`);
  });

  it('redacts the start of a secret at the end of a truncated text, and keeps it in a whole one', () => {
    expect(redaction.redactText('cut at hunter2-pa', { truncated: true })).toBe(`cut at ${REDACTED}`);
    expect(redaction.redactText('ends with hunter2-pa')).toBe('ends with hunter2-pa');
  });

  it('ignores values too short to redact, and does nothing without secrets', () => {
    const none = new OutputRedaction(['short']);
    expect(none.isEmpty).toBe(true);
    expect(none.redactText('short text')).toBe('short text');
  });
});

describe('OutputRedaction over long output', () => {
  it('passes a chunk without secrets on unchanged, and finds every secret among many', () => {
    const redaction = new OutputRedaction(['first-secret-1', 'second-secret-22', 'first-secret-1-longer']);
    const stream = redaction.redactStream();
    const plain = Buffer.from(`${'x'.repeat(65_535)}\n`);
    expect(stream.push(plain)).toEqual(plain);
    const text = `${'a'.repeat(1000)}first-secret-1-longer|second-secret-22|first-secret-1.`;
    expect(redaction.redactText(text)).toBe(`${'a'.repeat(1000)}${REDACTED}|${REDACTED}|${REDACTED}.`);
  });
});
