import { describe, expect, it } from 'vitest';
import { BASH_BUILTIN_READ_MAX_BYTES, encodeStubRequest } from './stubs.js';

const request = (code: string) => ({ cwd: '/home/sandbox', env: { A: '1' }, code });

describe('encodeStubRequest', () => {
  it('ends with the code, after the working directory, variables and files', () => {
    const encoded = encodeStubRequest('python', request('print("é")'));
    expect(encoded.toString()).toBe('/home/sandbox\u00001\u0000A=1\u00000\u0000print("é")');
  });

  it("gives bash the code's length in bytes when its read builtin may take it", () => {
    const code = 'é'.repeat(BASH_BUILTIN_READ_MAX_BYTES / 2);
    const encoded = encodeStubRequest('bash', request(code)).toString();
    expect(encoded).toBe(`/home/sandbox\u00001\u0000A=1\u00000\u0000${BASH_BUILTIN_READ_MAX_BYTES}\u0000${code}`);
  });

  it.each([
    ['longer than the limit', 'x'.repeat(BASH_BUILTIN_READ_MAX_BYTES + 1)],
    ['holding a NUL', 'echo a\u0000b'],
  ])('leaves the length empty for code %s, which cat copies', (_name, code) => {
    const encoded = encodeStubRequest('bash', request(code)).toString();
    expect(encoded).toBe(`/home/sandbox\u00001\u0000A=1\u00000\u0000\u0000${code}`);
  });
});
