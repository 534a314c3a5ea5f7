import { z } from 'zod';
import { THREAD_ID_PATTERN } from './execute.js';

/** Largest file the Files API takes in one upload. */
export const FILE_MAX_BYTES = 10 * 1024 ** 3;

/**
 * {@link homePathProblem}'s rules but the byte limit, as a regular expression (ECMA-262, for JSON Schema): relative,
 * no empty, `.` or `..` segments (also percent-encoded), no backslash or NUL.
 */
export const HOME_PATH_PATTERN = String.raw`^(?!/)(?!.*//)(?!.*/$)(?!.*[\\\u0000])(?!(?:.*/)?(?:\.|%2[eE]){1,2}(?:/|$)).+$`;

/** Why a path of the Files API (inside a home or a volume) is refused, or undefined when it is acceptable. */
export function homePathProblem(path: string): string | undefined {
  if (new TextEncoder().encode(path).length > 4096) return 'at most 4096 bytes';
  if (path.includes('\0')) return 'must not contain NUL';
  if (path.includes('\\')) return 'must not contain backslashes';
  if (path.startsWith('/')) return 'must be relative to the home directory or the volume';
  for (const segment of path.split('/')) {
    if (segment === '') return 'must not have empty segments';
    let decoded = segment;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      // not percent-encoded
    }
    if (segment === '.' || segment === '..' || decoded === '.' || decoded === '..') {
      return 'must not contain "." or ".." segments, plain or percent-encoded';
    }
  }
  return undefined;
}

const HomePath = z.string().superRefine((path, context) => {
  const problem = path.length === 0 ? 'must not be empty' : homePathProblem(path);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

const FileSource = z
  .enum(['thread', 'volume'], { error: "must be 'thread' (id: a thread_id) or 'volume' (id: a volume's slug)" })
  .describe(
    "`thread`: the persistent home of the thread `id`. `volume`: the managed volume whose slug is `id`: with an API key, " +
      "as the key's sandboxes see it at /data/<mount> (the sandbox config must attach it; a key prefix confines the " +
      'paths and a read-only attachment refuses uploads and deletes); on the admin endpoints, the whole volume.',
  );
const SourceId = z.string().regex(THREAD_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,128}$');

export const FilesListRequest = z.strictObject({
  source: FileSource,
  id: SourceId,
  /** A directory of the home or volume; its whole subtree is listed. The home or volume itself when absent. */
  path: HomePath.optional(),
});
export type FilesListRequest = z.infer<typeof FilesListRequest>;

export const FileDownloadUrlRequest = z.strictObject({ source: FileSource, id: SourceId, path: HomePath });
export type FileDownloadUrlRequest = z.infer<typeof FileDownloadUrlRequest>;

export const FileUploadUrlRequest = z.strictObject({
  source: FileSource,
  id: SourceId,
  path: HomePath,
  content_length: z.number().int().min(0).max(FILE_MAX_BYTES, `at most ${FILE_MAX_BYTES} bytes`),
  content_type: z.string().max(255).optional(),
});
export type FileUploadUrlRequest = z.infer<typeof FileUploadUrlRequest>;

export const FileDeleteRequest = z.strictObject({ source: FileSource, id: SourceId, path: HomePath });
export type FileDeleteRequest = z.infer<typeof FileDeleteRequest>;

export const FileEntry = z.object({
  name: z.string().describe('the last segment of path'),
  path: z.string().describe("relative to the home directory, or to the volume's directory the request sees (an API key's prefix, or the volume's root)"),
  size: z.number().int().min(0).describe('bytes; 0 for directories'),
  modified: z.iso.datetime(),
  is_directory: z.boolean(),
}).meta({ id: 'FileEntry' });
export type FileEntry = z.infer<typeof FileEntry>;

export const FilesListResponse = z.object({ files: z.array(FileEntry) }).meta({ id: 'FilesListResponse' });
export type FilesListResponse = z.infer<typeof FilesListResponse>;

export const SignedUrlResponse = z.object({
  url: z.string(),
  method: z.enum(['GET', 'PUT']),
  headers: z.array(z.object({ name: z.string(), value: z.string() })),
  expires_at: z.iso.datetime(),
}).meta({ id: 'SignedUrlResponse', description: 'a signed, expiring URL allowing one method on one file; send `headers` with the request' });
export type SignedUrlResponse = z.infer<typeof SignedUrlResponse>;

export const FileDeleteResponse = z.object({ deleted: z.literal(true) }).meta({ id: 'FileDeleteResponse' });
export type FileDeleteResponse = z.infer<typeof FileDeleteResponse>;
