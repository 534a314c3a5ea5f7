import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ImageImportSource } from './image-manifest.js';
import { ImageImportError } from './image-import-error.js';
import { runTool } from './run-tool.js';

/** `registry/name:tag` or `name@sha256:<hex>`: the characters of a reference, and never an option. */
const REFERENCE = /^[a-z0-9][a-z0-9._/:@-]{0,511}$/i;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface SkopeoOptions {
  skopeoPath: string;
  /** The import's staging directory (mode 0700): skopeo's HOME, temporary files, the authfile and the digest. */
  workDirectory: string;
  /** The platform picked from a multi-architecture index: linux on this one. */
  architecture: string;
  onProgress: (line: string) => void;
}

/**
 * Copies an image from a registry into the OCI layout `layout` as `tag` and answers the digest of the manifest pulled
 * (the platform's manifest of a multi-architecture index), as the registry serves it. Credentials reach skopeo only
 * in a mode-0600 authfile in the work directory, removed as soon as the pull ends; without credentials skopeo uses
 * none (`--src-no-creds`), never the host's own logins.
 */
export async function pullImage(
  options: SkopeoOptions,
  source: Extract<ImageImportSource, { kind: 'registry' }>,
  destination: { layout: string; tag: string },
): Promise<string> {
  if (!REFERENCE.test(source.reference) || source.reference.includes('://')) {
    throw new ImageImportError(`"${source.reference}" is not an image reference such as registry.example.com/team/python:3.13`);
  }
  // Pulled as the registry serves it, then converted to an OCI layout: converting on the way would change the digest.
  const pulled = join(options.workDirectory, 'pulled');
  const authfile = join(options.workDirectory, 'auth.json');
  let digest: string;
  try {
    const authentication = source.credentials
      ? ['--src-authfile', await writeAuthfile(authfile, registryOf(source.reference), source.credentials)]
      : ['--src-no-creds'];
    digest = await copy(options, [
      ...authentication,
      `--src-tls-verify=${source.tlsVerify !== false}`,
      `docker://${source.reference}`,
      `dir:${pulled}`,
    ]);
  } finally {
    await fs.rm(authfile, { force: true });
  }
  await copy(options, [`dir:${pulled}`, ...toLayout(destination, { keepLayers: true })]);
  await fs.rm(pulled, { recursive: true, force: true });
  return digest;
}

/**
 * Copies the image of an unpacked OCI layout (`oci:<directory>`) or of a `docker save` archive
 * (`docker-archive:<file>`) into the OCI layout `layout` as `tag`; answers the digest of the manifest written.
 */
export function copyImage(options: SkopeoOptions, source: string, destination: { layout: string; tag: string }): Promise<string> {
  // skopeo 1.9 would keep a docker archive's uncompressed layers as they are but name them tar+gzip in the OCI
  // manifest, which umoci then fails to read: those it compresses.
  return copy(options, [source, ...toLayout(destination, { keepLayers: !source.startsWith('docker-archive:') })]);
}

/**
 * An OCI layout as a copy's destination; with `keepLayers` its layers as they come (skopeo would compress
 * uncompressed ones, changing the manifest's digest and spending the time).
 */
function toLayout(destination: { layout: string; tag: string }, options: { keepLayers: boolean }): string[] {
  return [...(options.keepLayers ? ['--dest-oci-accept-uncompressed-layers'] : []), `oci:${destination.layout}:${destination.tag}`];
}

async function copy(options: SkopeoOptions, copyArguments: string[]): Promise<string> {
  const { workDirectory } = options;
  const temporary = join(workDirectory, 'tmp');
  await fs.mkdir(temporary, { recursive: true, mode: 0o700 });
  const digestFile = join(workDirectory, 'digest');
  await fs.rm(digestFile, { force: true });
  await runTool({
    command: options.skopeoPath,
    args: [
      '--tmpdir', temporary,
      '--override-os', 'linux',
      '--override-arch', options.architecture,
      'copy',
      '--retry-times', '2',
      '--digestfile', digestFile,
      ...copyArguments,
    ],
    environment: { HOME: workDirectory, TMPDIR: temporary },
    debianPackage: 'skopeo',
    onLine: options.onProgress,
  });
  const digest = (await fs.readFile(digestFile, 'utf8')).trim();
  if (!DIGEST.test(digest)) throw new ImageImportError(`skopeo reported an unexpected digest: ${digest.slice(0, 100)}`);
  return digest;
}

/** Writes a containers-auth.json file (mode 0600, created exclusively) holding one registry's credentials. */
async function writeAuthfile(path: string, registry: string, credentials: { username: string; password: string }): Promise<string> {
  if (credentials.username.includes(':')) throw new ImageImportError('a registry username cannot contain ":"');
  const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
  const file = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await file.writeFile(JSON.stringify({ auths: { [registry]: { auth } } }));
  } finally {
    await file.close();
  }
  return path;
}

/**
 * The registry a reference names, as skopeo reads it: the first component when it has a dot or a port or is
 * `localhost`, else Docker Hub.
 */
export function registryOf(reference: string): string {
  const slash = reference.indexOf('/');
  const first = slash < 0 ? '' : reference.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}
