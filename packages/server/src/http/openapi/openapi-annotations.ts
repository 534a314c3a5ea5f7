import {
  EnvVars,
  ExecuteRequest,
  FileDownloadUrlRequest,
  FileUploadUrlRequest,
  HOME_PATH_PATTERN,
  LIMITS,
  Metadata,
  RESERVED_ENV_NAMES,
  RESERVED_ENV_PREFIXES,
  STORAGE_PATH_MAX_BYTES,
  STORAGE_SEGMENT_MAX_BYTES,
} from '@airlock/contracts';
import type { z } from 'zod';
import type { CreateDocumentOptions } from 'zod-openapi';

type JsonSchema = Record<string, unknown>;

const { shape } = ExecuteRequest;

/**
 * What the request schemas' refinements check, in JSON Schema words where it has them, and descriptions: added to
 * the schema each belongs to when the document is rendered, so the contracts stay the only definition of the rules.
 */
const annotations = new Map<z.core.$ZodType, JsonSchema>([
  [shape.code, { minLength: 1, description: `The program to run: 1 byte to ${LIMITS.codeMaxBytes} bytes of UTF-8.` }],
  [shape.language, { description: "The interpreter; it must exist in the image of the API key's sandbox config." }],
  [
    shape.timeout,
    {
      description:
        "Wall-clock limit in whole seconds; at most the sandbox config's and the organization's maximum. The whole " +
        'process tree is killed when it passes (status `timeout`).',
    },
  ],
  [
    shape.thread_id.unwrap(),
    {
      description:
        'Keeps `/home/sandbox` between calls with the same thread_id. One execution per thread at a time: a concurrent ' +
        'call gets 409 `thread_busy`.',
    },
  ],
  [
    Metadata,
    {
      maxProperties: LIMITS.metadataMaxKeys,
      propertyNames: { minLength: 1, maxLength: LIMITS.metadataKeyMaxLength },
      description: 'Stored with the execution and sent with its webhook; never given to the sandbox.',
    },
  ],
  [
    EnvVars,
    {
      maxProperties: LIMITS.envVarsMaxCount,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: LIMITS.envVarNameMaxLength },
      description:
        `Environment variables of the code, over those of the sandbox config and the API key. Values at most ` +
        `${LIMITS.envVarValueMaxBytes} bytes without NUL, names and values together at most ${LIMITS.envVarsTotalMaxBytes} ` +
        `bytes. Reserved names (any case) are refused: ${[...RESERVED_ENV_NAMES, ...RESERVED_ENV_PREFIXES.map((prefix) => `${prefix}*`)]
          .map((name) => `\`${name}\``)
          .join(', ')}.`,
    },
  ],
  [
    shape.sub_paths.unwrap(),
    {
      description:
        'Narrows storage mounts for this call (the Baponi SDK form): `/data/<mount>` or `/data/<mount>/<path>`, at ' +
        "most one entry per mount, each a mount the API key's sandbox has; the sandbox then sees only that directory " +
        "at `/data/<mount>`, below the key's own prefix. `[]` narrows nothing. Segments are separated by single `/`: " +
        'no `.` or `..` segments, no trailing `/`, no backslash or control characters, none of `%2e`, `%2f`, `%5c`, ' +
        '`%00`, `%25`, `%c0`, `%c1` in any case (paths are never URL-decoded); ' +
        `at most ${STORAGE_PATH_MAX_BYTES} bytes, ${STORAGE_SEGMENT_MAX_BYTES} per segment.`,
    },
  ],
  [
    shape.webhook_url.unwrap(),
    {
      description:
        'With `Prefer: respond-async`: where the result is POSTed once the execution finishes (see the callback). ' +
        'https only (plain http only to loopback in development mode); private and internal destinations are refused.',
    },
  ],
  [
    FileDownloadUrlRequest.shape.path,
    {
      minLength: 1,
      pattern: HOME_PATH_PATTERN,
      description:
        "Relative to the home directory, or to the volume's directory the API key sees: no leading `/`, no empty, `.` " +
        'or `..` segments (plain or percent-encoded), no backslash or NUL, at most 4096 bytes.',
    },
  ],
  [FileUploadUrlRequest.shape.content_length, { description: 'The exact size of the upload in bytes; the PUT must send this many.' }],
]);

/** Adds the annotations to the rendered schemas; integers lose the safe-integer bounds zod gives every one. */
export const annotate: NonNullable<CreateDocumentOptions['override']> = ({ zodSchema, jsonSchema }) => {
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
  const annotation = annotations.get(zodSchema);
  if (annotation) Object.assign(jsonSchema, annotation);
};
