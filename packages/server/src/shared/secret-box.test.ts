import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from './secret-box.js';

describe('SecretBox', () => {
  const current = randomBytes(32);
  const previous = randomBytes(32);

  it('opens what it sealed, with a fresh nonce each time', () => {
    const box = new SecretBox([current]);
    const first = box.seal('whsec_abc', 'row-1');
    const second = box.seal('whsec_abc', 'row-1');
    expect(first).not.toBe(second);
    expect(first).not.toContain('whsec_abc');
    expect(box.open(first, 'row-1')).toBe('whsec_abc');
    expect(box.open(second, 'row-1')).toBe('whsec_abc');
  });

  it('refuses another context, a flipped bit and a truncated value', () => {
    const box = new SecretBox([current]);
    const sealed = box.seal('secret', 'row-1');
    expect(() => box.open(sealed, 'row-2')).toThrow(SecretBoxError);
    const [version, id, packed] = sealed.split('.') as [string, string, string];
    const bytes = Buffer.from(packed, 'base64url');
    bytes[14] = (bytes[14] as number) ^ 1;
    expect(() => box.open(`${version}.${id}.${bytes.toString('base64url')}`, 'row-1')).toThrow(SecretBoxError);
    expect(() => box.open(`${version}.${id}.AAAA`, 'row-1')).toThrow(/truncated/);
    expect(() => box.open('plain text', 'row-1')).toThrow(/not a sealed value/);
  });

  it('rotates: the first key seals, every key opens, a dropped key no longer opens', () => {
    const old = new SecretBox([previous]).seal('kept', 'row');
    const rotated = new SecretBox([current, previous]);
    expect(rotated.open(old, 'row')).toBe('kept');
    const resealed = rotated.seal('kept', 'row');
    expect(new SecretBox([current]).open(resealed, 'row')).toBe('kept');
    expect(() => new SecretBox([current]).open(old, 'row')).toThrow(/master key/);
  });
});
