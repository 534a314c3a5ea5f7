import {
  ExecuteRequest,
  ExecuteResponse,
  FileDownloadUrlRequest,
  FilesListRequest,
  FilesListResponse,
  LIMITS,
} from '@airlock/contracts';
import { z } from 'zod';

/** Largest file whose text files_download returns inline. */
export const INLINE_TEXT_MAX_BYTES = 256 * 1024;

/** sandbox_execute arguments: the fields of the HTTP execute request an agent sets, with the same rules. */
export const ExecuteArguments = z.strictObject({
  code: ExecuteRequest.shape.code.describe(`The program to run, at most ${LIMITS.codeMaxBytes} bytes.`),
  language: ExecuteRequest.shape.language.describe('python (python3), node or bash. Default python.'),
  timeout: ExecuteRequest.shape.timeout.describe(
    `Wall-clock limit in whole seconds, 1-${LIMITS.timeoutMaxSeconds} (the API key may allow less). ` +
      `Default ${LIMITS.timeoutDefaultSeconds}. The whole process tree is killed when it passes.`,
  ),
  thread_id: ExecuteRequest.shape.thread_id.describe(
    'Keeps /home/sandbox between calls: every call with the same thread_id sees the files earlier calls left there. ' +
      'Omit it for a throwaway home. Letters, digits, _ and -, at most 128 characters.',
  ),
});

// The contract's schemas carry component ids (for OpenAPI), which would make a tool's output schema a bare $ref; a
// tool's output schema must be an inline object schema, so the tools use copies of their shapes.

/** sandbox_execute's result: the HTTP API's inline response. */
export const ExecuteResult = z.object(ExecuteResponse.shape);

export const FilesListArguments = z.strictObject({
  thread_id: FilesListRequest.shape.id.describe('The thread whose /home/sandbox is listed.'),
  path: FilesListRequest.shape.path.describe(
    'A directory relative to /home/sandbox, such as "project/src"; its whole subtree is listed. Omit it for the whole home.',
  ),
});

export const FilesListResult = z.object(FilesListResponse.shape);

export const FilesDownloadArguments = z.strictObject({
  thread_id: FileDownloadUrlRequest.shape.id.describe('The thread whose home holds the file.'),
  path: FileDownloadUrlRequest.shape.path.describe('The file, relative to /home/sandbox, such as "report.csv".'),
});

export const FilesDownloadResult = z.object({
  path: z.string(),
  size: z.number().int().describe('bytes'),
  url: z.string().describe('a signed URL that downloads the file with a plain GET, no API key needed'),
  expires_at: z.string().describe('when the URL stops working'),
  content: z
    .string()
    .nullable()
    .describe(`the file's text when it is UTF-8 text of at most ${INLINE_TEXT_MAX_BYTES} bytes, else null (use url)`),
});

export const WebFetchArguments = z.strictObject({
  url: z.string().min(1).max(4096).describe('An absolute http(s) URL, such as "https://docs.python.org/3/library/asyncio.html".'),
});

export const WebFetchResult = z.object({
  url: z.string(),
  final_url: z.string().describe('where the redirects (each checked against the policy) led'),
  status: z.number().int(),
  content_type: z.string(),
  title: z.string().nullable(),
  text: z.string().nullable().describe("the page's main content as plain text; null when withheld"),
  truncated: z.boolean().describe("the answer was cut at the policy's size limit"),
  withheld: z.boolean().describe('the injection scan found enough to withhold the text (policy injection_scan: block)'),
  scan: z
    .object({ score: z.number(), flagged: z.boolean(), reasons: z.array(z.object({ rule: z.string(), excerpt: z.string() })) })
    .nullable()
    .describe('the prompt-injection scan of the text; null when the policy turns it off'),
});

export const WebSearchArguments = z.strictObject({
  query: z.string().min(1).max(400).describe('What to search for.'),
  count: z.number().int().min(1).max(20).optional().describe('How many results, 1-20. Default 5.'),
});

export const WebSearchResult = z.object({
  query: z.string(),
  provider: z.string(),
  results: z.array(z.object({ title: z.string(), url: z.string(), snippet: z.string() })),
});
