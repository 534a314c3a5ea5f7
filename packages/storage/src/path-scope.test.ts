import { posix } from 'node:path';
import { parseRelativePath, parseSubPath } from '@airlock/contracts';
import { describe, expect, it } from 'vitest';
import { pathContains, resolveSubPaths, scopeMount } from './path-scope.js';

const segments = (path: string) => (path === '' ? [] : path.split('/'));

describe('containment, segment by segment', () => {
  it.each([
    ['tenants/a', 'tenants/a', true],
    ['tenants/a', 'tenants/a/x', true],
    ['tenants/a', 'tenants/a/x/y/z', true],
    ['tenants/a', 'tenants/ab', false],
    ['tenants/a', 'tenants/ab/x', false],
    ['tenants/a', 'tenants', false],
    ['tenants/a', 'tenants/b', false],
    ['tenants/a', 'other/tenants/a', false],
    ['tenants/a', 'Tenants/a', false],
    ['tenants/a', '', false],
    ['', '', true],
    ['', 'anything/at/all', true],
    ['a', 'a.b', false],
    ['a', 'a-b', false],
    ['données', 'données/x', true],
    // Unicode is compared as written: the decomposed é (e + U+0301) is another name.
    ['données', 'donne\u0301es/x', false],
  ])('%j contains %j: %s', (outer, inner, expected) => {
    expect(pathContains(segments(outer), segments(inner))).toBe(expected);
  });
});

describe('the three levels of one mount', () => {
  it.each([
    [{ connectionPrefix: '' }, { path: '', storagePath: '' }],
    [{ connectionPrefix: 'tenants' }, { path: '', storagePath: 'tenants' }],
    [{ connectionPrefix: 'tenants', keyPrefix: '' }, { path: '', storagePath: 'tenants' }],
    [{ connectionPrefix: 'tenants', keyPrefix: 'k' }, { path: 'k', storagePath: 'tenants/k' }],
    [{ connectionPrefix: 'tenants', keyPrefix: 'k', subPath: ['x'] }, { path: 'k/x', storagePath: 'tenants/k/x' }],
    [{ connectionPrefix: 'tenants', keyPrefix: 'k', subPath: [] }, { path: 'k', storagePath: 'tenants/k' }],
    [{ connectionPrefix: 'tenants', subPath: ['x', 'y'] }, { path: 'x/y', storagePath: 'tenants/x/y' }],
    [{ connectionPrefix: '', keyPrefix: 'a/b', subPath: ['c'] }, { path: 'a/b/c', storagePath: 'a/b/c' }],
    [{ connectionPrefix: 'org/team', keyPrefix: 'users/ada', subPath: ['reports', '2026'] }, { path: 'users/ada/reports/2026', storagePath: 'org/team/users/ada/reports/2026' }],
  ])('%j is %j', (levels, expected) => {
    expect(scopeMount(levels)).toEqual({ ok: true, value: expected });
  });

  it('a key prefix is relative to the mount root and cannot leave it', () => {
    const inside = 'a key prefix is relative to the mount root and lies inside the connection prefix';
    expect(scopeMount({ connectionPrefix: 'tenants', keyPrefix: '../other' })).toEqual({
      ok: false,
      problem: `key prefix: must not contain "." or ".." segments; ${inside}`,
    });
    expect(scopeMount({ connectionPrefix: 'tenants', keyPrefix: '/tenants/a' })).toEqual({
      ok: false,
      problem: `key prefix: must be relative: no leading "/"; ${inside}`,
    });
    expect(scopeMount({ connectionPrefix: 'tenants', keyPrefix: '%2e%2e' })).toMatchObject({ ok: false, problem: expect.stringMatching(/^key prefix: must not contain %2e/) });
    expect(scopeMount({ connectionPrefix: 'tenants', keyPrefix: 'k/' })).toMatchObject({ ok: false, problem: expect.stringMatching(/^key prefix: must not end with "\/"/) });
  });

  it('refuses a connection prefix or a sub path that is not a plain relative path, naming the level', () => {
    expect(scopeMount({ connectionPrefix: '../x' })).toEqual({ ok: false, problem: 'connection prefix: must not contain "." or ".." segments' });
    expect(scopeMount({ connectionPrefix: '/bucket' })).toEqual({ ok: false, problem: 'connection prefix: must be relative: no leading "/"' });
    expect(scopeMount({ connectionPrefix: 't', subPath: ['..'] })).toEqual({ ok: false, problem: 'sub path: must not contain "." or ".." segments' });
    expect(scopeMount({ connectionPrefix: 't', subPath: ['a/..'] })).toEqual({ ok: false, problem: 'sub path: must not contain "." or ".." segments' });
    expect(scopeMount({ connectionPrefix: 't', subPath: ['a', ''] })).toEqual({ ok: false, problem: 'sub path: must not end with "/"' });
    expect(scopeMount({ connectionPrefix: 't', subPath: ['', 'a'] })).toEqual({ ok: false, problem: 'sub path: must be relative: no leading "/"' });
  });
});

describe("a request's sub_paths", () => {
  const mounts = new Set(['myvol', 'company-data']);

  it('an empty list, or none, narrows nothing', () => {
    expect(resolveSubPaths([], mounts)).toEqual({ ok: true, value: new Map() });
    expect(resolveSubPaths([], new Set())).toEqual({ ok: true, value: new Map() });
  });

  it('gives each named mount its path below what the key sees', () => {
    const resolved = resolveSubPaths(['/data/myvol/sub', '/data/company-data'], mounts);
    expect(resolved).toEqual({ ok: true, value: new Map([['myvol', ['sub']], ['company-data', []]]) });
    const sub = resolved.ok ? resolved.value.get('myvol') : undefined;
    expect(scopeMount({ connectionPrefix: 'tenants', keyPrefix: 'k', subPath: sub })).toEqual({
      ok: true,
      value: { path: 'k/sub', storagePath: 'tenants/k/sub' },
    });
  });

  it('refuses a mount the sandbox does not have, listing those it has', () => {
    expect(resolveSubPaths(['/data/myvol/sub'], new Set())).toEqual({
      ok: false,
      problem: "sub_paths.0: /data/myvol is not mounted in this sandbox; this API key's sandbox config attaches no storage",
    });
    expect(resolveSubPaths(['/data/myvol', '/data/other/x'], mounts)).toEqual({
      ok: false,
      problem: 'sub_paths.1: /data/other is not mounted in this sandbox; its mounts are /data/company-data, /data/myvol',
    });
  });

  it('takes one entry per mount', () => {
    for (const second of ['/data/myvol/b', '/data/myvol', '/data/myvol/a/deeper', '/data/myvol/a']) {
      expect(resolveSubPaths(['/data/myvol/a', '/data/company-data', second], mounts)).toEqual({
        ok: false,
        problem: 'sub_paths.2: /data/myvol is narrowed by sub_paths.0 already; give at most one path per mount',
      });
    }
  });

  it.each([
    ['/etc/passwd', 'must be an absolute path under /data'],
    ['data/myvol', 'must be an absolute path under /data'],
    ['/data', 'must name a mount'],
    ['/data/myvol/', 'must not end with "/"'],
    ['/data/myvol//x', 'must not contain empty segments'],
    ['/data/myvol/../company-data', 'must not contain "." or ".." segments'],
    ['/data/myvol/%2e%2e/x', 'must not contain %2e'],
    ['/data/myvol/a%2Fb', 'must not contain %2e'],
    ['/data/myvol/a\\b', 'must not contain backslashes'],
    ['/data/myvol/a\0b', 'must not contain NUL'],
    ['/data/myvol/a\u001fb', 'must not contain control characters'],
    ['/data/myvol/\ud800', 'must be valid Unicode'],
    ['/data/MYVOL', 'the mount name "MYVOL" must match'],
    [`/data/myvol/${'x'.repeat(256)}`, 'each segment must be at most 255 bytes'],
  ])('names the entry refused for its spelling: %j', (entry, problem) => {
    const resolved = resolveSubPaths(['/data/myvol', entry], new Set(['myvol', 'other']));
    expect(resolved.ok).toBe(false);
    expect(resolved.ok ? '' : resolved.problem).toMatch(new RegExp(`^sub_paths\\.1: ${escape(problem)}`));
  });
});

describe('narrowing never widens (generated paths)', () => {
  /** Deterministic pseudo-random numbers (mulberry32), so a failure replays. */
  function random(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const next = random(20261202);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  /** Pieces chosen to build traversal attempts and near misses as well as ordinary names. */
  const PIECES = ['a', 'b', 'ab', '.', '..', '...', '/', '//', '\\', '%', '%2e', '%2E', '%2f', '%5c', '%00', '%25', '%c0%ae', '%20', '\0', '\n', 'é', '名', '😀', ' ', '~', '-', '_', 'tenants'];
  const generated = (): string => Array.from({ length: 1 + Math.floor(next() * 6) }, () => pick(PIECES)).join('');

  /** The text and what up to three rounds of URL decoding make of it (backslashes read as separators). */
  function decodings(text: string): string[] {
    const results = [text];
    for (let round = 0; round < 3; round++) {
      try {
        results.push(decodeURIComponent(results.at(-1) as string).replaceAll('\\', '/'));
      } catch {
        break;
      }
    }
    return results;
  }
  /**
   * An oracle independent of the module: whether a POSIX resolver puts `inner` inside `outer` (both below /root),
   * taken literally and after each round of URL decoding.
   */
  function staysInside(outer: string, inner: string): boolean {
    const outers = decodings(outer);
    return decodings(inner).every((decoded, round) => {
      const root = posix.resolve('/root', outers[round] ?? outer);
      const resolved = posix.resolve('/root', decoded);
      return resolved === root || resolved.startsWith(`${root}/`);
    });
  }

  it('the oracle sees traversal, plain and encoded', () => {
    expect(staysInside('', 'a/b')).toBe(true);
    expect(staysInside('', '../x')).toBe(false);
    expect(staysInside('', '%2e%2e/x')).toBe(false);
    expect(staysInside('', '%252e%252e/x')).toBe(false);
    expect(staysInside('k', 'k/..%5c..')).toBe(false);
  });

  it('every accepted relative path is its own segments and resolves inside its root, decoded or not', () => {
    let accepted = 0;
    let escapes = 0;
    for (let index = 0; index < 20_000; index++) {
      const text = generated();
      const parsed = parseRelativePath(text);
      if (!parsed.ok) {
        if (!staysInside('', text)) escapes++;
        continue;
      }
      accepted++;
      expect(parsed.value.join('/')).toBe(text);
      for (const segment of parsed.value) expect(['', '.', '..']).not.toContain(segment);
      expect(staysInside('', text), JSON.stringify(text)).toBe(true);
    }
    expect(accepted).toBeGreaterThan(1000);
    // The generator makes real attempts, which were all refused.
    expect(escapes).toBeGreaterThan(1000);
  });

  it('every accepted sub path lies inside what the key sees, which lies inside the connection prefix', () => {
    let composed = 0;
    for (let index = 0; index < 20_000; index++) {
      const connectionPrefix = pick(['', 'tenants', 'org/team']);
      const keyPrefix = pick(['', 'k', 'users/ada', generated()]);
      const entry = `/data/vol/${generated()}`;
      const parsed = parseSubPath(entry);
      const scoped = parsed.ok ? scopeMount({ connectionPrefix, keyPrefix, subPath: parsed.value.path }) : undefined;
      if (!scoped?.ok) continue;
      composed++;
      const { path, storagePath } = scoped.value;
      const keyView = [connectionPrefix, keyPrefix].filter((part) => part !== '').join('/');
      expect(pathContains(segments(connectionPrefix), segments(storagePath))).toBe(true);
      expect(pathContains(segments(keyView), segments(storagePath))).toBe(true);
      expect(pathContains(segments(keyPrefix), segments(path))).toBe(true);
      expect(staysInside(keyView, storagePath), `${JSON.stringify(entry)} with key prefix ${JSON.stringify(keyPrefix)}`).toBe(true);
      expect(staysInside(connectionPrefix, storagePath)).toBe(true);
    }
    expect(composed).toBeGreaterThan(1000);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
