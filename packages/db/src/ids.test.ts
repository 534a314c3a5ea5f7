import { describe, expect, it } from 'vitest';
import { generateId } from './ids.js';

describe('generateId', () => {
  it('prefixes 20 lower-case base32 characters with the kind', () => {
    expect(generateId('organization')).toMatch(/^org_[0-9a-hjkmnp-tv-z]{20}$/);
    expect(generateId('sandboxConfig')).toMatch(/^sbx_/);
    expect(generateId('apiKey')).toMatch(/^key_/);
    expect(generateId('execution')).toMatch(/^trc_/);
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => generateId('execution')));
    expect(ids.size).toBe(10_000);
  });
});
