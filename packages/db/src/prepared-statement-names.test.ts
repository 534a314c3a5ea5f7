import { describe, expect, it } from 'vitest';
import { PreparedStatementNames } from './prepared-statement-names.js';

describe('PreparedStatementNames', () => {
  it('names a statement text from its second run on, one name per text', () => {
    const names = new PreparedStatementNames();
    expect(names.name('SELECT 1')).toBeUndefined();
    const first = names.name('SELECT 1');
    expect(first).toMatch(/^airlock_\d+$/);
    expect(names.name('SELECT 1')).toBe(first);
    expect(names.name('SELECT 2')).toBeUndefined();
    const second = names.name('SELECT 2');
    expect(second).not.toBe(first);
  });

  it('names at most 256 texts; the others keep running unnamed', () => {
    const names = new PreparedStatementNames();
    const named = new Set<string>();
    for (let index = 0; index < 300; index++) {
      names.name(`SELECT ${index}`);
      const name = names.name(`SELECT ${index}`);
      if (name !== undefined) named.add(name);
    }
    expect(named.size).toBe(256);
    expect(names.name('SELECT 299')).toBeUndefined();
    expect(names.name('SELECT 0')).toBe('airlock_1');
  });
});
