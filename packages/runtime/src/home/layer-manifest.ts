import { createHash } from 'node:crypto';

/**
 * One entry of a home layer. Paths are relative to the home, '/'-separated, without '.', '..' or empty segments.
 * Ownership is not recorded: everything in a home belongs to the sandbox user.
 */
export type LayerEntry =
  | { path: string; type: 'directory'; mode: number; mtimeMs: number; opaque?: true }
  | { path: string; type: 'file'; mode: number; mtimeMs: number; size: number; digest: string }
  | { path: string; type: 'symlink'; target: string; mtimeMs: number }
  | { path: string; type: 'whiteout' };

/**
 * What one call changed in a home, as overlayfs left it in the upper directory: new and changed entries, whiteouts
 * for deletions, opaque directories that hide everything below them in earlier layers. Entries are sorted by path.
 */
export interface LayerManifest {
  version: 1;
  entries: LayerEntry[];
}

export class LayerManifestError extends Error {
  override readonly name = 'LayerManifestError';
}

const MAX_PATH_BYTES = 4096;
const DIGEST = /^[0-9a-f]{64}$/;

/** Throws unless `path` is a clean relative path inside the home. */
export function assertLayerPath(path: string): void {
  const segments = path.split('/');
  if (
    path.length === 0 ||
    Buffer.byteLength(path) > MAX_PATH_BYTES ||
    path.includes('\0') ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..')
  ) {
    throw new LayerManifestError(`invalid path in a layer: ${JSON.stringify(path)}`);
  }
}

export function compareLayerPaths(a: string, b: string): number {
  // Byte order of segments, so that a directory sorts directly before everything in it.
  const left = a.split('/');
  const right = b.split('/');
  for (let index = 0; index < Math.min(left.length, right.length); index++) {
    if (left[index] !== right[index]) return Buffer.compare(Buffer.from(left[index]!), Buffer.from(right[index]!));
  }
  return left.length - right.length;
}

/** The manifest as stored: canonical JSON, so the same layer always has the same digest. */
export function encodeManifest(manifest: LayerManifest): Buffer {
  return Buffer.from(JSON.stringify({ version: manifest.version, entries: manifest.entries }));
}

export function manifestDigest(manifest: LayerManifest): string {
  return createHash('sha256').update(encodeManifest(manifest)).digest('hex');
}

/** Parses and checks a stored manifest: every path clean, every entry well-formed, sorted, no duplicates. */
export function decodeManifest(bytes: Buffer): LayerManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new LayerManifestError('layer manifest is not JSON');
  }
  const manifest = parsed as LayerManifest;
  if (manifest?.version !== 1 || !Array.isArray(manifest.entries)) {
    throw new LayerManifestError('layer manifest has an unknown format');
  }
  let previous: string | undefined;
  for (const entry of manifest.entries) {
    assertLayerPath(entry?.path);
    if (previous !== undefined && compareLayerPaths(previous, entry.path) >= 0) {
      throw new LayerManifestError(`layer manifest is not sorted at ${JSON.stringify(entry.path)}`);
    }
    previous = entry.path;
    const valid =
      (entry.type === 'directory' && isMode(entry.mode)) ||
      (entry.type === 'file' && isMode(entry.mode) && Number.isSafeInteger(entry.size) && DIGEST.test(entry.digest)) ||
      (entry.type === 'symlink' && typeof entry.target === 'string' && entry.target.length > 0 && !entry.target.includes('\0')) ||
      entry.type === 'whiteout';
    if (!valid) throw new LayerManifestError(`malformed layer entry ${JSON.stringify(entry.path)}`);
  }
  return manifest;
}

function isMode(mode: unknown): boolean {
  return Number.isInteger(mode) && (mode as number) >= 0 && (mode as number) <= 0o7777;
}

/**
 * The home that a stack of layers (oldest first) shows, as overlayfs would: later entries replace earlier ones, a
 * whiteout removes a path and everything below it, an opaque directory hides everything below it from earlier layers.
 * The result has no whiteouts and no opaque marks, so it is also a single layer equivalent to the stack.
 */
export function mergeLayers(layers: LayerManifest[]): LayerManifest {
  const merged = new Map<string, LayerEntry>();
  const removeBelow = (path: string): void => {
    const prefix = `${path}/`;
    for (const key of merged.keys()) if (key.startsWith(prefix)) merged.delete(key);
  };
  for (const layer of layers) {
    for (const entry of layer.entries) {
      const existing = merged.get(entry.path);
      if (entry.type === 'whiteout') {
        merged.delete(entry.path);
        removeBelow(entry.path);
        continue;
      }
      if (existing?.type === 'directory' && (entry.type !== 'directory' || entry.opaque)) removeBelow(entry.path);
      if (entry.type === 'directory') {
        const { opaque: _opaque, ...plain } = entry;
        merged.set(entry.path, plain);
      } else {
        merged.set(entry.path, entry);
      }
    }
  }
  // Entries below a path that is no longer a directory are unreachable.
  const entries = [...merged.values()].sort((a, b) => compareLayerPaths(a.path, b.path));
  const reachable: LayerEntry[] = [];
  const directories = new Set<string>(['']);
  for (const entry of entries) {
    const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
    if (!directories.has(parent)) continue;
    if (entry.type === 'directory') directories.add(entry.path);
    reachable.push(entry);
  }
  return { version: 1, entries: reachable };
}
