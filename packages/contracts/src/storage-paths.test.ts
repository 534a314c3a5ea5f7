import { describe, expect, it } from 'vitest';
import { ExecuteRequest } from './execute.js';
import { MOUNT_NAME_PATTERN, mountNameProblem, parseRelativePath, parseSubPath } from './storage-paths.js';

const problemOf = (check: { ok: true } | { ok: false; problem: string }) => (check.ok ? undefined : check.problem);

const DOTS = 'must not contain "." or ".." segments';
const EMPTY = 'must not contain empty segments ("//")';
const ENCODED = 'must not contain %2e, %2f, %5c, %00, %25, %c0 or %c1 (in any case): paths are taken literally, never URL-decoded';
const UNDER_DATA = 'must be an absolute path under /data, like /data/<mount>/<path>';
const CONTROL = 'must not contain control characters (U+0000-U+001F, U+007F-U+009F)';

describe('relative storage paths (connection and key prefixes)', () => {
  it.each([
    ['', []],
    ['tenants', ['tenants']],
    ['tenants/a', ['tenants', 'a']],
    ['tenants/a/b-c_d.e', ['tenants', 'a', 'b-c_d.e']],
    ['.hidden', ['.hidden']],
    ['...', ['...']],
    ['a..b/..c/d..', ['a..b', '..c', 'd..']],
    ['with space/ trailing ', ['with space', ' trailing ']],
    ['100%/50%20off', ['100%', '50%20off']],
    ['%2', ['%2']],
    ['données/名前/😀', ['données', '名前', '😀']],
    ['Upper/CASE', ['Upper', 'CASE']],
    ['~/$HOME/*', ['~', '$HOME', '*']],
    ['a:b/c;d', ['a:b', 'c;d']],
  ])('accepts %j as %j', (text, segments) => {
    expect(parseRelativePath(text)).toEqual({ ok: true, value: segments });
  });

  it.each([
    ['/tenants', 'must be relative: no leading "/"'],
    ['/', 'must be relative: no leading "/"'],
    ['tenants/', 'must not end with "/"'],
    ['a//b', EMPTY],
    ['.', DOTS],
    ['..', DOTS],
    ['../x', DOTS],
    ['a/..', DOTS],
    ['a/../b', DOTS],
    ['a/./b', DOTS],
    ['./a', DOTS],
    ['a\\b', 'must not contain backslashes; separate segments with "/"'],
    ['..\\x', 'must not contain backslashes; separate segments with "/"'],
    ['a\0b', 'must not contain NUL'],
    ['a\nb', CONTROL],
    ['a\tb', CONTROL],
    ['a\rb', CONTROL],
    ['\u001b[31m', CONTROL],
    ['a\u007fb', CONTROL],
    ['a\u0085b', CONTROL],
    ['a\u009fb', CONTROL],
    ['a\ud800b', 'must be valid Unicode (no lone surrogates)'],
    ['a\udc00', 'must be valid Unicode (no lone surrogates)'],
    ['%2e%2e/x', ENCODED],
    ['%2E%2E', ENCODED],
    ['a/%2e', ENCODED],
    ['a%2fb', ENCODED],
    ['a%2Fb', ENCODED],
    ['a%5cb', ENCODED],
    ['a%5Cb', ENCODED],
    ['a%00b', ENCODED],
    ['%252e%252e', ENCODED],
    ['%c0%ae%c0%ae', ENCODED],
    ['%C1%9C', ENCODED],
  ])('refuses %j: %s', (text, problem) => {
    expect(problemOf(parseRelativePath(text))).toBe(problem);
  });

  it('limits a path to 1024 bytes and a segment to 255 bytes of UTF-8', () => {
    const segment = 'a'.repeat(255);
    expect(parseRelativePath(segment).ok).toBe(true);
    expect(problemOf(parseRelativePath(`${segment}a`))).toBe('each segment must be at most 255 bytes (UTF-8)');
    // 85 three-byte characters are 255 bytes; one more is 258.
    expect(parseRelativePath('名'.repeat(85)).ok).toBe(true);
    expect(problemOf(parseRelativePath('名'.repeat(86)))).toBe('each segment must be at most 255 bytes (UTF-8)');
    const longest = `${'a'.repeat(200)}/`.repeat(5) + 'a'.repeat(19);
    expect(new TextEncoder().encode(longest).length).toBe(1024);
    expect(parseRelativePath(longest).ok).toBe(true);
    expect(problemOf(parseRelativePath(`${longest}a`))).toBe('must be at most 1024 bytes (UTF-8)');
    expect(problemOf(parseRelativePath('é'.repeat(513)))).toBe('must be at most 1024 bytes (UTF-8)');
  });
});

describe('mount names', () => {
  it.each(['a', '0', 'company-data', 'my_vol', 'v2', 'a'.repeat(63)])('accepts %j', (name) => {
    expect(mountNameProblem(name)).toBeUndefined();
    expect(new RegExp(MOUNT_NAME_PATTERN).test(name)).toBe(true);
  });

  it.each(['', 'A', 'MyVol', '-vol', '_vol', 'a.b', 'a b', 'vol/sub', '..', 'a'.repeat(64), 'é', 'vol\n'])('refuses %j', (name) => {
    expect(mountNameProblem(name)).toBe(
      `the mount name "${name}" must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lowercase letters, digits, "_" and "-", at most 63)`,
    );
  });
});

describe('sub_paths entries', () => {
  it.each([
    ['/data/myvol', { mount: 'myvol', path: [] }],
    ['/data/myvol/sub', { mount: 'myvol', path: ['sub'] }],
    ['/data/company-data/reports/2026/q1', { mount: 'company-data', path: ['reports', '2026', 'q1'] }],
    ['/data/v/données', { mount: 'v', path: ['données'] }],
  ])('reads %j as %j', (text, value) => {
    expect(parseSubPath(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['data/myvol', UNDER_DATA],
    ['myvol/sub', UNDER_DATA],
    ['', UNDER_DATA],
    ['/', UNDER_DATA],
    ['/dat', UNDER_DATA],
    ['/database/x', UNDER_DATA],
    ['/home/sandbox', UNDER_DATA],
    ['/Data/myvol', UNDER_DATA],
    ['/data', 'must name a mount: /data/<mount> or /data/<mount>/<path>'],
    ['/data/', 'must not end with "/"'],
    ['/data/myvol/', 'must not end with "/"'],
    ['/data//myvol', EMPTY],
    ['/data/myvol//sub', EMPTY],
    ['/data/../etc', DOTS],
    ['/data/myvol/..', DOTS],
    ['/data/myvol/../other', DOTS],
    ['/data/myvol/./sub', DOTS],
    ['/data/./myvol', DOTS],
    ['/data/myvol/%2e%2e/other', ENCODED],
    ['/data/myvol%2f..%2fother', ENCODED],
    ['/data/myvol/a%5c..', ENCODED],
    ['/data/myvol/\\..\\other', 'must not contain backslashes; separate segments with "/"'],
    ['/data/myvol/a\0b', 'must not contain NUL'],
    ['/data/myvol/a\nb', CONTROL],
    ['/data/MyVol/sub', 'the mount name "MyVol" must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lowercase letters, digits, "_" and "-", at most 63)'],
    ['/data/-x', 'the mount name "-x" must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lowercase letters, digits, "_" and "-", at most 63)'],
    ['/data/v/' + 'a'.repeat(256), 'each segment must be at most 255 bytes (UTF-8)'],
    ['/data/v/' + 'a/'.repeat(600) + 'a', 'must be at most 1024 bytes (UTF-8)'],
  ])('refuses %j: %s', (text, problem) => {
    expect(problemOf(parseSubPath(text))).toBe(problem);
  });
});

describe('the execute request field', () => {
  const parse = (subPaths: unknown) => ExecuteRequest.safeParse({ code: 'x', sub_paths: subPaths });
  const firstIssue = (subPaths: unknown) => {
    const issue = parse(subPaths).error?.issues[0];
    return issue && { path: issue.path, message: issue.message };
  };

  it('takes a list of entries, an empty one included, and leaves mounts to the call', () => {
    expect(parse([]).data?.sub_paths).toEqual([]);
    expect(parse(['/data/myvol/sub', '/data/other']).data?.sub_paths).toEqual(['/data/myvol/sub', '/data/other']);
    expect(ExecuteRequest.parse({ code: 'x' }).sub_paths).toBeUndefined();
  });

  it('names the entry that is refused', () => {
    expect(firstIssue(['/data/ok', '/data/ok/../x'])).toEqual({ path: ['sub_paths', 1], message: DOTS });
    expect(firstIssue(['/etc'])).toEqual({ path: ['sub_paths', 0], message: UNDER_DATA });
    expect(firstIssue([42])?.path).toEqual(['sub_paths', 0]);
  });

  it('refuses the object form and more than 16 entries', () => {
    expect(firstIssue({ data: 'a' })?.path).toEqual(['sub_paths']);
    expect(firstIssue('/data/myvol')?.path).toEqual(['sub_paths']);
    expect(parse(Array.from({ length: 16 }, (_, index) => `/data/v${index}`)).success).toBe(true);
    expect(firstIssue(Array.from({ length: 17 }, (_, index) => `/data/v${index}`))).toEqual({
      path: ['sub_paths'],
      message: 'at most 16 entries, one per mount',
    });
  });
});
