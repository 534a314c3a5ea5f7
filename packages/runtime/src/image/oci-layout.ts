import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ImageImportError } from './image-import-error.js';

/** Manifests, indexes and configs are small; anything larger is not one. */
const MAX_DOCUMENT_BYTES = 4 << 20;
const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
const REF_NAME = 'org.opencontainers.image.ref.name';

interface Descriptor {
  mediaType?: string;
  digest: string;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

/** What the import needs from an image's OCI configuration. */
export interface ImageConfig {
  os: string;
  architecture: string;
  /** The directories of the PATH variable the image's Env sets, in order. */
  path: string[];
}

/** Go's names for Node's architectures, as OCI images name theirs. */
const GO_ARCHITECTURES: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** This host's architecture as OCI images name it (amd64, arm64, ...). */
export function hostArchitecture(): string {
  return GO_ARCHITECTURES[process.arch] ?? process.arch;
}

/** The manifest digest and configuration of the image tagged `tag` in an OCI layout. */
export async function readLayoutImage(layout: string, tag: string): Promise<{ digest: string; config: ImageConfig }> {
  const index = await readDocument<{ manifests?: Descriptor[] }>(layout, null, 'index.json');
  const descriptor = index.manifests?.find((entry) => entry.annotations?.[REF_NAME] === tag);
  if (!descriptor) throw new ImageImportError(`the image layout has no image tagged ${tag}`);
  const manifest = await readDocument<{ config?: Descriptor }>(layout, descriptor.digest, 'manifest');
  if (!manifest.config) throw new ImageImportError(`manifest ${descriptor.digest} names no configuration`);
  const config = await readDocument<{ os?: unknown; architecture?: unknown; config?: { Env?: unknown } }>(layout, manifest.config.digest, 'configuration');
  const environment = Array.isArray(config.config?.Env) ? config.config.Env.filter((entry) => typeof entry === 'string') : [];
  const path = environment.findLast((entry) => entry.startsWith('PATH='))?.slice('PATH='.length) ?? '';
  return {
    digest: descriptor.digest,
    config: {
      os: typeof config.os === 'string' ? config.os : '',
      architecture: typeof config.architecture === 'string' ? config.architecture : '',
      path: path.split(':').filter((directory) => directory.startsWith('/')),
    },
  };
}

/**
 * Leaves one image in a layout that lists several in its index.json (an OCI archive of a multi-platform build): the
 * one for linux on `architecture`, as skopeo picks from a multi-architecture index. A layout of one image stays as it
 * is.
 */
export async function selectLayoutPlatform(layout: string, architecture: string): Promise<void> {
  const index = await readDocument<{ manifests?: Descriptor[] }>(layout, null, 'index.json');
  const manifests = index.manifests ?? [];
  if (manifests.length <= 1) return;
  const matching = manifests.filter((entry) => entry.platform?.os === 'linux' && entry.platform.architecture === architecture);
  if (matching.length !== 1) {
    throw new ImageImportError(
      `the archive holds ${manifests.length} images and ${matching.length} of them for linux/${architecture}; ` +
        'save exactly one image (or one per platform) into it',
    );
  }
  await fs.writeFile(join(layout, 'index.json'), JSON.stringify({ ...index, manifests: matching }));
}

/** A JSON document of the layout: index.json (`digest` null) or the blob of a digest. */
async function readDocument<T>(layout: string, digest: string | null, what: string): Promise<T> {
  if (digest !== null && !DIGEST.test(digest)) throw new ImageImportError(`the image's ${what} has an invalid digest`);
  const path = digest === null ? join(layout, 'index.json') : join(layout, 'blobs', ...digest.split(':'));
  const stats = await fs.lstat(path).catch(() => null);
  if (!stats?.isFile()) throw new ImageImportError(`the image layout lacks its ${what} (${digest ?? 'index.json'})`);
  if (stats.size > MAX_DOCUMENT_BYTES) throw new ImageImportError(`the image's ${what} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  try {
    const document: unknown = JSON.parse(await fs.readFile(path, 'utf8'));
    if (typeof document !== 'object' || document === null) throw new Error('not an object');
    return document as T;
  } catch (error) {
    throw new ImageImportError(`the image's ${what} is not valid JSON: ${(error as Error).message}`);
  }
}
