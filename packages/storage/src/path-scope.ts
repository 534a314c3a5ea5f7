import { DATA_ROOT, parseRelativePath, parseSubPath, type PathCheck } from '@airlock/contracts';

/**
 * Which directory of a bucket or volume a sandbox sees at /data/<name> (DESIGN.md 4). Three levels, each a relative
 * path appended to the one before, so each may only narrow:
 * 1. the connection's prefix: a path inside its bucket ("" for the whole bucket; a managed volume's is "");
 * 2. an API key's prefix for one attachment, relative to the mount root (the directory level 1 names);
 * 3. the call's `sub_paths` entry for the mount, relative to what the key sees: with key prefix `k`,
 *    `/data/vol/x` is `<connection prefix>/k/x`.
 * Every level is spelled by `parseRelativePath` of `@airlock/contracts` (no `..`, no encoded traversal, no absolute
 * paths), so no spelling reaches outside the level before it.
 */

/** A directory of one mount for one call. */
export interface ScopedMount {
  /** What is bound at /data/<name>, below the mount root (levels 2 and 3), segments joined by "/"; "" for the root. */
  path: string;
  /** The same directory inside the bucket or volume: the connection prefix, then `path`; "" for its root. */
  storagePath: string;
}

export interface MountLevels {
  /** Level 1: the connection's prefix inside its bucket; "" for the whole bucket and for a managed volume. */
  connectionPrefix: string;
  /** Level 2: the API key's prefix for this attachment, relative to the mount root; undefined or "" for none. */
  keyPrefix?: string;
  /** Level 3: the call's path for this mount, relative to what the key sees (from resolveSubPaths); none when absent. */
  subPath?: readonly string[];
}

const refuse = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });

/**
 * Whether `inner` is `outer` or below it, segment by segment: `tenants/a` contains `tenants/a` and `tenants/a/x`,
 * not `tenants/ab`. The root (`[]`) contains everything.
 */
export function pathContains(outer: readonly string[], inner: readonly string[]): boolean {
  return inner.length >= outer.length && outer.every((segment, index) => inner[index] === segment);
}

/**
 * The directory of one mount a call's sandbox sees: the three levels composed. A problem names the level, e.g.
 * `key prefix: must not contain "." or ".." segments; ...`.
 */
export function scopeMount(levels: MountLevels): PathCheck<ScopedMount> {
  const connection = parseRelativePath(levels.connectionPrefix);
  if (!connection.ok) return refuse(`connection prefix: ${connection.problem}`);
  const key = parseRelativePath(levels.keyPrefix ?? '');
  if (!key.ok) {
    return refuse(`key prefix: ${key.problem}; a key prefix is relative to the mount root and lies inside the connection prefix`);
  }
  // Checked joined: a segment holding "/" or "" cannot pass as one segment.
  const sub = parseRelativePath((levels.subPath ?? []).join('/'));
  if (!sub.ok) return refuse(`sub path: ${sub.problem}`);
  const path = [...key.value, ...sub.value];
  return { ok: true, value: { path: path.join('/'), storagePath: [...connection.value, ...path].join('/') } };
}

/**
 * A request's `sub_paths` by mount name, each the path below what the key sees. `mounts` is the set of names the
 * sandbox has under /data; every entry must name one of them, and a mount takes at most one entry (a mount with
 * none is not narrowed; an empty list narrows nothing). A problem names the entry as the API names array elements:
 * `sub_paths.1: /data/vol is not mounted in this sandbox; ...`.
 */
export function resolveSubPaths(entries: readonly string[], mounts: ReadonlySet<string>): PathCheck<Map<string, string[]>> {
  const byMount = new Map<string, { index: number; path: string[] }>();
  for (const [index, entry] of entries.entries()) {
    const field = `sub_paths.${index}`;
    const parsed = parseSubPath(entry);
    if (!parsed.ok) return refuse(`${field}: ${parsed.problem}`);
    const { mount, path } = parsed.value;
    if (!mounts.has(mount)) return refuse(`${field}: ${DATA_ROOT}/${mount} is not mounted in this sandbox; ${mountList(mounts)}`);
    const earlier = byMount.get(mount);
    if (earlier) {
      return refuse(`${field}: ${DATA_ROOT}/${mount} is narrowed by sub_paths.${earlier.index} already; give at most one path per mount`);
    }
    byMount.set(mount, { index, path });
  }
  return { ok: true, value: new Map([...byMount].map(([mount, { path }]) => [mount, path])) };
}

function mountList(mounts: ReadonlySet<string>): string {
  if (mounts.size === 0) return "this API key's sandbox config attaches no storage";
  return `its mounts are ${[...mounts].sort().map((mount) => `${DATA_ROOT}/${mount}`).join(', ')}`;
}
