import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SandboxLanguage } from '../sandbox/sandbox-types.js';
import { detectLibc, findInterpreters, probeLanguages, type ImageProbe } from './image-discovery.js';
import { ImageImportError } from './image-import-error.js';
import type { ImageImportSource, ImageManifest, ImageSource } from './image-manifest.js';
import { unpackOciArchive } from './oci-archive.js';
import { hostArchitecture, readLayoutImage, selectLayoutPlatform, type ImageConfig } from './oci-layout.js';
import { describeNeutralised, neutraliseRootfs } from './rootfs-neutraliser.js';
import { runTool } from './run-tool.js';
import { prepareSandboxRoot } from './sandbox-root.js';
import { copyImage, pullImage, type SkopeoOptions } from './skopeo.js';

export interface ImportTools {
  /** @default skopeo (Debian package skopeo) */
  skopeoPath?: string;
  /** @default umoci (Debian package umoci) */
  umociPath?: string;
}

export interface ImportContext {
  /** A new directory of mode 0700 that the import fills; its rootfs/ is the image's root file system in the end. */
  staging: string;
  source: ImageImportSource;
  tools: ImportTools;
  probe: ImageProbe;
  onProgress: (line: string) => void;
}

/** An image fetched into an OCI layout in the staging directory, not unpacked yet. */
export interface FetchedImage {
  source: ImageSource;
  /** The first 12 hex digits of the manifest digest. */
  version: string;
  config: ImageConfig;
}

/** What an import makes of an image; the store adds its name, the time and the (unknown) packages. */
export type ImportedImage = Omit<ImageManifest, 'name' | 'builtAt' | 'packages'>;

/** The tag of the one image in the staging layout. */
const TAG = 'image';

/**
 * Copies the image into an OCI layout in the staging directory with skopeo (from a registry, for this host's
 * architecture, or from an archive) and reads its configuration; an image for another platform is refused here,
 * before anything of it is unpacked.
 */
export async function fetchImage(context: ImportContext): Promise<FetchedImage> {
  const { staging, source } = context;
  const architecture = hostArchitecture();
  const skopeo: SkopeoOptions = {
    skopeoPath: context.tools.skopeoPath ?? 'skopeo',
    workDirectory: staging,
    architecture,
    onProgress: context.onProgress,
  };
  const destination = { layout: join(staging, 'layout'), tag: TAG };
  let imageSource: ImageSource;
  if (source.kind === 'registry') {
    context.onProgress(`pulling ${source.reference}`);
    imageSource = { kind: 'registry', reference: source.reference, digest: await pullImage(skopeo, source, destination) };
  } else {
    context.onProgress('reading the archive');
    const unpacked = join(staging, 'archive');
    const format = await unpackOciArchive(source.path, unpacked);
    let digest: string;
    if (format === 'oci') {
      await selectLayoutPlatform(unpacked, architecture);
      digest = await copyImage(skopeo, `oci:${unpacked}`, destination);
      await fs.rm(unpacked, { recursive: true, force: true });
    } else {
      // By a link of the staging directory's: a path with ":" would not parse as a transport's reference.
      const link = join(staging, 'archive.tar');
      await fs.symlink(source.path, link);
      digest = await copyImage(skopeo, `docker-archive:${link}`, destination);
      await fs.unlink(link);
    }
    imageSource = { kind: 'archive', format, digest };
  }
  const { config } = await readLayoutImage(destination.layout, TAG);
  if (config.os !== 'linux' || config.architecture !== architecture) {
    throw new ImageImportError(
      `the image is for ${config.os || 'an unknown OS'}/${config.architecture || 'an unknown architecture'}; this server runs ` +
        `linux/${architecture}: import the image's linux/${architecture} variant`,
    );
  }
  return { source: imageSource, version: imageSource.digest.slice('sha256:'.length, 'sha256:'.length + 12), config };
}

/**
 * Unpacks a fetched image to `<staging>/rootfs` with umoci, makes it harmless and usable as a sandbox root, and
 * discovers its C library and languages (the interpreters run in sandboxes, never on the host). Fails when no
 * language runs.
 */
export async function unpackImage(context: ImportContext, fetched: FetchedImage): Promise<ImportedImage> {
  const { staging, onProgress } = context;
  const bundle = join(staging, 'bundle');
  const rootfs = join(staging, 'rootfs');
  onProgress('unpacking the layers');
  await runTool({
    command: context.tools.umociPath ?? 'umoci',
    args: ['unpack', '--image', `${join(staging, 'layout')}:${TAG}`, bundle],
    environment: { HOME: staging, TMPDIR: join(staging, 'tmp') },
    debianPackage: 'umoci',
    onLine: onProgress,
  });
  await fs.rename(join(bundle, 'rootfs'), rootfs);
  await Promise.all(['bundle', 'layout', 'tmp'].map((name) => fs.rm(join(staging, name), { recursive: true, force: true })));

  onProgress('neutralising device nodes, setuid and setgid bits and file capabilities');
  const { neutralised, sizeBytes } = await neutraliseRootfs(rootfs);
  for (const line of describeNeutralised(neutralised)) onProgress(line);
  onProgress(neutralised.length === 0 ? 'nothing to neutralise' : `neutralised ${neutralised.length} entries`);
  for (const note of await prepareSandboxRoot(rootfs)) onProgress(`prepared the sandbox root: ${note}`);

  const architecture = fetched.config.architecture;
  const libc = await detectLibc(rootfs, architecture);
  onProgress(`C library: ${libc ?? 'none found'}`);
  const interpreters = await findInterpreters(rootfs, fetched.config.path);
  const searched = [...fetched.config.path, '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  if (Object.keys(interpreters).length === 0) {
    throw new ImageImportError(
      `the image has no python3, node or bash in ${searched}; Airlock runs code with one of them: import an image that has one`,
    );
  }
  const languages = await probeLanguages(rootfs, interpreters, context.probe, onProgress);
  if (Object.keys(languages).length === 0) {
    const found = (Object.entries(interpreters) as Array<[SandboxLanguage, string]>).map(([, path]) => path).join(', ');
    throw new ImageImportError(`none of the image's interpreters (${found}) runs in a sandbox; see the lines above for why`);
  }
  return { version: fetched.version, source: fetched.source, architecture, libc, languages, sizeBytes };
}
