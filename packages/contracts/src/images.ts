import { z } from 'zod';
import { LANGUAGES } from './execute.js';
import { Text } from './text.js';

const Timestamp = z.iso.datetime();

/** Runtime images in the admin API (`/admin/v1/images`): the installation's catalog, shared by every organization. */

export const IMAGE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const ImageName = z
  .string()
  .regex(IMAGE_NAME_PATTERN, 'lowercase letters, digits, dots, dashes and underscores, starting with a letter or digit, at most 63');
export const ImagePath = z.object({ name: ImageName.describe('image name') });

/** `registry/name:tag` or `registry/name@sha256:<64 hex>`; the registry defaults to Docker Hub, as skopeo does. */
const IMAGE_REFERENCE_PATTERN = /^[a-z0-9][a-z0-9._:/-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})?$/;

export const ImportImageRequest = z
  .strictObject({
    name: ImageName,
    reference: z
      .string()
      .max(512)
      .regex(IMAGE_REFERENCE_PATTERN, 'a registry reference such as registry.example.com/team/python:3.13 or name@sha256:<digest>')
      .describe('the image to pull: `registry/name:tag` or `registry/name@sha256:<digest>`'),
    credentials: z
      .strictObject({ username: Text, password: z.string().min(1).max(4096) })
      .optional()
      .describe('registry credentials, sealed with the master key and never returned (answers show the username)'),
    tls_verify: z
      .boolean()
      .optional()
      .describe("default true; false for a registry served over plain HTTP or with a certificate that can't be verified"),
  })
  .meta({ id: 'ImportImageRequest' });
export type ImportImageRequest = z.infer<typeof ImportImageRequest>;

export const ImageLanguageSummary = z.object({
  interpreter: z.string().describe('absolute path of the interpreter inside the image'),
  version: z.string().describe('what the interpreter reports as its version'),
});

export const ImageManifestSummary = z
  .object({
    version: z.string().describe("the recipe's hash, or the first 12 hex digits of the imported manifest's digest"),
    digest: z.string().nullable().describe('imported images: the digest of the OCI manifest unpacked'),
    architecture: z.string().describe('amd64, arm64...; a foreign one is refused at import'),
    libc: z.string().nullable().describe('glibc or musl and its version, null when the image has none'),
    languages: z.partialRecord(z.enum(LANGUAGES), ImageLanguageSummary),
    packages: z
      .array(z.object({ name: z.string(), version: z.string(), ecosystem: z.enum(['debian', 'python', 'node']), license: z.string().optional() }))
      .describe('packages worth knowing about (the data stack, client tools)'),
    size_bytes: z.number().int(),
    built_at: Timestamp,
  })
  .meta({ id: 'ImageManifestSummary' });

export const IMAGE_STATUSES = ['pending', 'ready', 'failed', 'not_built'] as const;

export const ImageSummary = z
  .object({
    name: ImageName,
    source: z.enum(['recipe', 'registry', 'archive']).describe('built by Airlock from a recipe, pulled from a registry, or uploaded'),
    reference: z.string().nullable().describe('registry images: the reference pulled'),
    tls_verify: z.boolean(),
    username: z.string().nullable().describe('registry images with credentials: the username (the password is never shown)'),
    status: z
      .enum(IMAGE_STATUSES)
      .describe('pending while it is built or imported; failed with `error`; ready with `manifest`; not_built: a recipe image this server has not built (POST .../build)'),
    error: z.string().nullable(),
    progress: z.array(z.string()).describe("the last lines of the image's latest build or import on this server (running or ended)"),
    manifest: ImageManifestSummary.nullable().describe('the version this server runs (kept while a newer one is imported)'),
    used_by: z.array(z.string()).describe('the sandbox configs naming it, as organization/sandbox'),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'ImageSummary' });
export type ImageSummary = z.infer<typeof ImageSummary>;

export const ImageListResponse = z.object({ images: z.array(ImageSummary) }).meta({ id: 'ImageListResponse' });
export type ImageListResponse = z.infer<typeof ImageListResponse>;
