import { z } from 'zod';
import { LIMITS } from './limits.js';

/**
 * How storage paths are spelled (DESIGN.md 4): relative paths inside a bucket or volume (a connection's prefix, an
 * API key's prefix), the names storage is mounted under in `/data`, and the entries of a request's `sub_paths`. What
 * they scope, and how the levels combine, is `@airlock/storage`'s path-scope module.
 *
 * A path has one spelling: segments separated by `/`, none empty (so no leading, trailing or doubled `/`), none `.`
 * or `..`, no backslash, no control characters, no lone surrogates, and no percent escape that decodes to a
 * separator, a dot, NUL or another escape. Paths are never URL-decoded, so `%20` is those three characters. Other
 * Unicode is allowed and compared exactly as written (no normalization).
 */

/** Storage is mounted below this directory of a sandbox. */
export const DATA_ROOT = '/data';
/** A relative path is at most this many bytes of UTF-8 (S3's limit for a whole object key). */
export const STORAGE_PATH_MAX_BYTES = 1024;
/** A segment is at most this many bytes of UTF-8 (a Linux file name's limit). */
export const STORAGE_SEGMENT_MAX_BYTES = 255;
/** The rule for a mount's name below /data (a managed volume's or a connection's), as a regular expression. */
export const MOUNT_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

/** A parsed value, or why the text was refused (a phrase to follow a field name and a colon). */
export type PathCheck<T> = { ok: true; value: T } | { ok: false; problem: string };

/** One `sub_paths` entry: the mount it names and the path below that mount's root (`[]` for the root itself). */
export interface SubPath {
  mount: string;
  path: string[];
}

const MOUNT_NAME = new RegExp(MOUNT_NAME_PATTERN);
const encoder = new TextEncoder();
const byteLength = (text: string): number => encoder.encode(text).byteLength;
const refuse = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });

/** Why a string is refused as a storage path whatever its structure; undefined when its characters are fine. */
function characterProblem(text: string): string | undefined {
  if (text.includes('\0')) return 'must not contain NUL';
  // C0 controls (newline, tab, ...), DEL and C1 controls.
  if (/\p{Cc}/u.test(text)) return 'must not contain control characters (U+0000-U+001F, U+007F-U+009F)';
  if (/\p{Cs}/u.test(text)) return 'must be valid Unicode (no lone surrogates)';
  if (text.includes('\\')) return 'must not contain backslashes; separate segments with "/"';
  // Encoded ".", "/", "\", NUL and "%" itself, and the overlong UTF-8 lead bytes that spell them in two bytes.
  if (/%(?:2e|2f|5c|00|25|c0|c1)/i.test(text)) {
    return 'must not contain %2e, %2f, %5c, %00, %25, %c0 or %c1 (in any case): paths are taken literally, never URL-decoded';
  }
  return undefined;
}

/**
 * A relative path inside a bucket or volume (a connection's prefix, an API key's prefix) as its segments; the empty
 * string is the root (`[]`). A trailing `/` is refused, not normalized: a path has one spelling.
 */
export function parseRelativePath(text: string): PathCheck<string[]> {
  if (byteLength(text) > STORAGE_PATH_MAX_BYTES) return refuse(`must be at most ${STORAGE_PATH_MAX_BYTES} bytes (UTF-8)`);
  const characters = characterProblem(text);
  if (characters) return refuse(characters);
  if (text === '') return { ok: true, value: [] };
  if (text.startsWith('/')) return refuse('must be relative: no leading "/"');
  if (text.endsWith('/')) return refuse('must not end with "/"');
  const segments = text.split('/');
  if (segments.includes('')) return refuse('must not contain empty segments ("//")');
  if (segments.some((segment) => segment === '.' || segment === '..')) return refuse('must not contain "." or ".." segments');
  if (segments.some((segment) => byteLength(segment) > STORAGE_SEGMENT_MAX_BYTES)) {
    return refuse(`each segment must be at most ${STORAGE_SEGMENT_MAX_BYTES} bytes (UTF-8)`);
  }
  return { ok: true, value: segments };
}

/** Why a name is refused as a mount's name below /data, or undefined when it is acceptable. */
export function mountNameProblem(name: string): string | undefined {
  return MOUNT_NAME.test(name)
    ? undefined
    : `the mount name "${name}" must match ${MOUNT_NAME_PATTERN} (lowercase letters, digits, "_" and "-", at most 63)`;
}

/**
 * One `sub_paths` entry, an absolute path in the sandbox: `/data/<mount>` (the whole mount) or
 * `/data/<mount>/<relative path>`, with the rules of {@link parseRelativePath} for what follows `/`.
 */
export function parseSubPath(text: string): PathCheck<SubPath> {
  if (text !== DATA_ROOT && !text.startsWith(`${DATA_ROOT}/`)) {
    return refuse(`must be an absolute path under ${DATA_ROOT}, like ${DATA_ROOT}/<mount>/<path>`);
  }
  const parsed = parseRelativePath(text.slice(1));
  if (!parsed.ok) return parsed;
  const [, mount, ...path] = parsed.value;
  if (mount === undefined) return refuse(`must name a mount: ${DATA_ROOT}/<mount> or ${DATA_ROOT}/<mount>/<path>`);
  const problem = mountNameProblem(mount);
  return problem ? refuse(problem) : { ok: true, value: { mount, path } };
}

/** The request's `sub_paths`: each entry's spelling; which mounts exist and how they narrow is checked per call. */
export const SubPaths = z
  .array(
    z.string().superRefine((entry, context) => {
      const parsed = parseSubPath(entry);
      if (!parsed.ok) context.addIssue({ code: 'custom', message: parsed.problem });
    }),
  )
  .max(LIMITS.subPathsMaxEntries, `at most ${LIMITS.subPathsMaxEntries} entries, one per mount`);
