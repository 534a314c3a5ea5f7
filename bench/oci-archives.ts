import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ociArchive, programWithLibraries, writeImageIndex, writeOciLayout } from '../test/support/oci-images.js';

/** A Transform that hashes what passes through it. */
function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
}

/**
 * A root file system as an OCI archive of one gzip-compressed layer, as a registry would serve the image: the layer is
 * `tar` of the tree with numeric owners, written to `archive` (a tar of the layout); `workDirectory` holds the layout
 * meanwhile.
 */
export async function packRootfs(options: { rootfs: string; archive: string; workDirectory: string }): Promise<void> {
  const layout = join(options.workDirectory, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const partial = join(blobs, 'layer.partial');
  const tar = spawn('tar', ['--numeric-owner', '-C', options.rootfs, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errorOutput = '';
  tar.stderr.on('data', (chunk: Buffer) => (errorOutput += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => tar.on('close', resolve));
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  await pipeline(tar.stdout, hashing(diffHash), createGzip(), hashing(blobHash), createWriteStream(partial));
  if ((await exited) !== 0) throw new Error(`tar of ${options.rootfs} failed: ${errorOutput.trim()}`);
  const digest = `sha256:${blobHash.digest('hex')}`;
  const { size } = await stat(partial);
  await rename(partial, join(blobs, digest.slice('sha256:'.length)));
  await writeImageIndex(layout, {
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size, diffId: `sha256:${diffHash.digest('hex')}` }],
  });
  ociArchive(layout, options.archive);
  await rm(layout, { recursive: true, force: true });
}

/** The smallest image a sandbox runs bash in: the host's bash and cat with their libraries, as an OCI archive. */
export async function packBashOnly(options: { archive: string; workDirectory: string }): Promise<void> {
  const layout = join(options.workDirectory, 'bash-layout');
  const entries = new Map([...programWithLibraries('/bin/bash'), ...programWithLibraries('/bin/cat')].map((entry) => [entry.path, entry]));
  await writeOciLayout(layout, { layers: [[...entries.values()]] });
  ociArchive(layout, options.archive);
  await rm(layout, { recursive: true, force: true });
}
