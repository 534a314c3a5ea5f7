import { describe, expect, it } from 'vitest';
import { HOME_PATH_PATTERN, homePathProblem } from './files.js';

describe('home paths', () => {
  const pattern = new RegExp(HOME_PATH_PATTERN);
  const samples = [
    'report.csv',
    'a/b/c.txt',
    '.hidden/.config',
    '...',
    'a/..b/c.',
    'x%2fy',
    '%2e%2ex',
    '',
    '/etc/passwd',
    'a//b',
    'a/',
    '.',
    '..',
    'a/./b',
    'a/../b',
    '../x',
    '%2e',
    '%2E%2e/x',
    'a/.%2e',
    'a\\b',
    'a\0b',
    'ünïcødé/名前.txt',
  ];

  it.each(samples)('the documented pattern and the check agree on %j', (path) => {
    const accepted = path.length > 0 && homePathProblem(path) === undefined;
    expect(pattern.test(path)).toBe(accepted);
  });

  it('refuses what escapes the home, with a reason', () => {
    expect(homePathProblem('../x')).toBe('must not contain "." or ".." segments, plain or percent-encoded');
    expect(homePathProblem('/etc')).toBe('must be relative to the home directory or the volume');
    expect(homePathProblem(`${'a/'.repeat(2048)}b`)).toBe('at most 4096 bytes');
  });
});
