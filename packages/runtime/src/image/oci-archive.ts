import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { ImageImportError } from './image-import-error.js';

/** What an uploaded archive holds: an OCI image layout, or what `docker save` writes. */
export type ArchiveFormat = 'oci' | 'docker';

/** The files of an OCI image layout; nothing else of an archive is written anywhere. */
const LAYOUT_FILES = new Set(['oci-layout', 'index.json']);
const BLOB = /^blobs\/(?:sha256\/[0-9a-f]{64}|sha512\/[0-9a-f]{128})$/;
const DOCKER_MANIFEST = 'manifest.json';

/**
 * Reads an archive (a tar, gzip-compressed or not) and writes the OCI image layout in it to `layout`, a new directory:
 * only `oci-layout`, `index.json` and `blobs/<algorithm>/<hex>`, each a regular file of the archive created afresh.
 * Every other entry (links, devices, other names, paths with `..`) is read past and never written, so the archive
 * cannot reach outside `layout`. An archive with `oci-layout` is an OCI layout (`docker save` of Docker 25 and later
 * writes one too); else one with `manifest.json` is a `docker save` archive, for skopeo's docker-archive transport,
 * which reads it in place.
 */
export async function unpackOciArchive(archivePath: string, layout: string): Promise<ArchiveFormat> {
  await fs.mkdir(layout, { mode: 0o700 });
  const written = new Set<string>();
  let dockerManifest = false;
  const entries = extract();
  const reading = (await isGzip(archivePath))
    ? pipeline(createReadStream(archivePath), createGunzip(), entries)
    : pipeline(createReadStream(archivePath), entries);
  reading.catch(() => undefined);
  try {
    for await (const entry of entries) {
      const name = entry.header.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (name === DOCKER_MANIFEST) dockerManifest = true;
      if (entry.header.type !== 'file' || !(LAYOUT_FILES.has(name) || BLOB.test(name))) {
        entry.resume();
        continue;
      }
      if (written.has(name)) throw new ImageImportError(`the archive holds ${name} twice`);
      written.add(name);
      const target = join(layout, name);
      await fs.mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await pipeline(entry, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
    }
    await reading;
  } catch (error) {
    if (error instanceof ImageImportError) throw error;
    throw new ImageImportError(`the archive is not a readable tar file: ${(error as Error).message}`);
  }
  if (written.has('oci-layout') && written.has('index.json')) return 'oci';
  if (dockerManifest) {
    await fs.rm(layout, { recursive: true, force: true });
    return 'docker';
  }
  throw new ImageImportError(
    'the archive is neither an OCI image layout (oci-layout and index.json) nor a docker save archive (manifest.json); ' +
      'upload what `docker save` or `skopeo copy ... oci-archive:` writes',
  );
}

/** Whether a file starts with gzip's magic number. */
async function isGzip(path: string): Promise<boolean> {
  const file = await fs.open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await file.close();
  }
}
