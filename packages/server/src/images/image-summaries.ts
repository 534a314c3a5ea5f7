import type { ImageSummary } from '@airlock/contracts';
import type { ImageRecord } from '@airlock/db';
import { manifestLanguages, type ImageManifest } from '@airlock/runtime';

/** An image as admin answers show it: never its credentials, only the username. */
export function summarizeImage(record: ImageRecord, live: { progress: string[]; usedBy: string[] }): ImageSummary {
  const manifest = record.manifest as unknown as ImageManifest | null;
  return {
    name: record.name,
    source: record.source,
    reference: record.reference,
    tls_verify: record.tlsVerify,
    username: record.username,
    status: record.status,
    error: record.error,
    progress: live.progress,
    manifest: manifest && {
      version: manifest.version,
      digest: manifest.source.kind === 'recipe' ? null : manifest.source.digest,
      architecture: manifest.architecture,
      libc: manifest.libc,
      languages: Object.fromEntries(manifestLanguages(manifest).map((language) => [language, manifest.languages[language]])),
      packages: manifest.packages,
      size_bytes: manifest.sizeBytes,
      built_at: manifest.builtAt,
    },
    used_by: live.usedBy,
    created_at: record.createdAt.toISOString(),
    updated_at: record.updatedAt.toISOString(),
  };
}
