import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { pack } from 'tar-stream';

/**
 * OCI images made in tests: layers written entry by entry (hostile ones too), OCI layouts, archives and a registry
 * on loopback (crane, built by scripts/setup.sh --test).
 */

const repository = fileURLToPath(new URL('../..', import.meta.url));
/** Where scripts/setup.sh --test builds it; the version is pinned there too. */
export const CRANE = join(repository, '.cache/tools/crane-0.22.1/crane');

/** One entry of a layer, as a tar file holds it; paths and link targets are written as given. */
export type LayerEntry =
  | { path: string; type: 'file'; content: Buffer | string; mode?: number; xattrs?: Record<string, string> }
  | { path: string; type: 'directory'; mode?: number }
  | { path: string; type: 'symlink' | 'link'; target: string }
  | { path: string; type: 'character-device' | 'block-device'; major: number; minor: number }
  | { path: string; type: 'fifo' };

export interface LayoutOptions {
  layers: LayerEntry[][];
  architecture?: string;
  env?: string[];
}

/** A layer already stored in a layout's blobs, and the digest of its uncompressed tar (the configuration's diff_id). */
export interface StoredLayer {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

/** Writes an OCI image layout with one image, tagged `latest`; answers its manifest digest. */
export async function writeOciLayout(directory: string, options: LayoutOptions): Promise<string> {
  await mkdir(join(directory, 'blobs', 'sha256'), { recursive: true });
  const layers: StoredLayer[] = [];
  for (const entries of options.layers) {
    const file = join(directory, 'layer.tar');
    await writeTar(file, entries);
    const stored = await storeBlob(directory, await readFile(file));
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...stored, diffId: stored.digest });
  }
  return writeImageIndex(directory, { ...options, layers });
}

/**
 * Writes the configuration, manifest, index (tagged `latest`) and oci-layout file of an image whose layers are in the
 * layout's blobs already; answers its manifest digest.
 */
export async function writeImageIndex(
  directory: string,
  options: Omit<LayoutOptions, 'layers'> & { layers: readonly StoredLayer[] },
): Promise<string> {
  await mkdir(join(directory, 'blobs', 'sha256'), { recursive: true });
  const layers = options.layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size }));
  const config = {
    architecture: options.architecture ?? 'amd64',
    os: 'linux',
    config: { Env: options.env ?? ['PATH=/usr/local/bin:/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: options.layers.map((layer) => layer.diffId) },
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await storeBlob(directory, Buffer.from(JSON.stringify(config)))) },
    layers,
  };
  const stored = await storeBlob(directory, Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: manifest.mediaType, ...stored, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  };
  await writeFile(join(directory, 'index.json'), JSON.stringify(index));
  await writeFile(join(directory, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return stored.digest;
}

/** A tar of a layout's files (`./oci-layout`, `./blobs/...`), as `skopeo copy ... oci-archive:` writes one. */
export function ociArchive(layout: string, archive: string): void {
  run('tar', ['-C', layout, '--exclude', './layer.tar', '-cf', archive, '.']);
}

/** A `docker save` archive of a layout's image, written by skopeo's docker-archive transport. */
export function dockerArchive(layout: string, archive: string, name: string): void {
  run('skopeo', ['copy', '--quiet', `oci:${layout}:latest`, `docker-archive:${archive}:${name}:latest`]);
}

/** A file of the host, then the shared libraries it needs (ldd), each as a file of the same path in the image. */
export function programWithLibraries(program: string, imagePath = program): LayerEntry[] {
  const output = run('ldd', [program]);
  const libraries = [...output.matchAll(/(\/\S+) \(0x/g)].map((match) => match[1]!);
  return [
    { path: imagePath.slice(1), type: 'file', content: readFileSync(program), mode: 0o755 },
    ...libraries.map((library): LayerEntry => ({ path: library.slice(1), type: 'file', content: readFileSync(library), mode: 0o755 })),
  ];
}

/** Every file below a host directory, except the names in `skip`, as files below `imageDirectory`. */
export async function directoryEntries(hostDirectory: string, imageDirectory: string, skip: readonly string[]): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  for (const entry of await readdir(hostDirectory, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const inside = relative(hostDirectory, path);
    if (inside.split('/').some((segment) => skip.includes(segment)) || !entry.isFile()) continue;
    entries.push({ path: join(imageDirectory, inside).slice(1), type: 'file', content: await readFile(path), mode: 0o644 });
  }
  return entries;
}

/** `crane registry serve` on a loopback port (no TLS, no authentication); stop() it when done. */
export async function startRegistry(): Promise<{ address: string; stop: () => Promise<void> }> {
  if (!existsSync(CRANE)) throw new Error(`${CRANE} is missing; run: bash scripts/setup.sh --test`);
  const child: ChildProcess = spawn(CRANE, ['registry', 'serve', '--address', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`crane registry did not start: ${output}`)), 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /serving on port (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`crane registry exited: ${output}`)));
  });
  return {
    address: `127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/** Pushes a layout's image to a registry reference with crane. */
export function pushLayout(layout: string, reference: string): void {
  run(CRANE, ['push', '--insecure', layout, reference]);
}

export function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}${result.error?.message ?? ''}`);
  return result.stdout;
}

/** Writes a tar file of `entries`, in order, as given. */
export async function writeTar(file: string, entries: readonly LayerEntry[]): Promise<void> {
  const archive = pack();
  const written = pipeline(archive, createWriteStream(file));
  for (const entry of entries) {
    const common = { name: entry.path, mtime: new Date(0), uid: 0, gid: 0 };
    if (entry.type === 'file') {
      const pax = entry.xattrs && Object.fromEntries(Object.entries(entry.xattrs).map(([name, value]) => [`SCHILY.xattr.${name}`, value]));
      await addEntry(archive, { ...common, type: 'file', mode: entry.mode ?? 0o644, ...(pax && { pax }) }, Buffer.from(entry.content));
    } else if (entry.type === 'directory') {
      await addEntry(archive, { ...common, type: 'directory', mode: entry.mode ?? 0o755 });
    } else if ('target' in entry) {
      await addEntry(archive, { ...common, type: entry.type, linkname: entry.target, mode: 0o777 });
    } else if (entry.type === 'fifo') {
      await addEntry(archive, { ...common, type: 'fifo', mode: 0o644 });
    } else {
      await addEntry(archive, { ...common, type: entry.type, devmajor: entry.major, devminor: entry.minor, mode: 0o666 });
    }
  }
  archive.finalize();
  await written;
}

function addEntry(archive: ReturnType<typeof pack>, header: Parameters<ReturnType<typeof pack>['entry']>[0], content?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const callback = (error?: Error | null): void => (error ? reject(error) : resolve());
    if (content) archive.entry(header, content, callback);
    else archive.entry(header, callback);
  });
}

async function storeBlob(directory: string, content: Buffer): Promise<{ digest: string; size: number }> {
  const hex = createHash('sha256').update(content).digest('hex');
  const path = join(directory, 'blobs', 'sha256', hex);
  await writeFile(`${path}.partial`, content);
  await rename(`${path}.partial`, path);
  return { digest: `sha256:${hex}`, size: content.length };
}
