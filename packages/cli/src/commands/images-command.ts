import { createReadStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import type { ImageSummary } from '@airlock/contracts';
import { ImageStore } from '@airlock/runtime';
import { loadConfig } from '@airlock/server';
import { adminToken } from '../admin-token.js';
import { requestJson, serverUrl } from '../http-client.js';
import { CommandError } from '../run-command.js';

interface ImageCommandOptions {
  dataDir?: string;
}

/** How often a following command asks the server for the image's progress. */
const FOLLOW_INTERVAL_MS = 1000;

function imagesUrl(name?: string, suffix = ''): string {
  return `${serverUrl()}/admin/v1/images${name === undefined ? '' : `/${encodeURIComponent(name)}`}${suffix}`;
}

/** One line per image: name, status, source, version, size, languages. */
export async function imagesListCommand(options: ImageCommandOptions): Promise<void> {
  const { images } = await requestJson<{ images: ImageSummary[] }>({ url: imagesUrl(), method: 'GET', token: adminToken(options) });
  for (const image of images) process.stdout.write(`${describe(image)}\n`);
}

/** Builds a recipe image on the server, following its progress; `--local` builds into the data directory instead. */
export async function imagesBuildCommand(name: string, options: ImageCommandOptions & { local?: boolean; force?: boolean }): Promise<void> {
  if (options.local) {
    const config = loadConfig({ dataDirectory: options.dataDir });
    const store = new ImageStore({ directory: config.imagesDirectory, mirror: config.imageMirror });
    const image = await store.build(name, { force: options.force ?? false, onProgress: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`${image.manifest.name} ${image.manifest.version} ${image.rootfs}\n`);
    return;
  }
  const token = adminToken(options);
  await requestJson({ url: imagesUrl(name, '/build'), method: 'POST', token });
  await follow(name, token);
}

/** Imports an image from a registry reference or an archive file, following its progress. */
export async function imagesImportCommand(
  name: string,
  reference: string | undefined,
  options: ImageCommandOptions & { archive?: string; username?: string; passwordStdin?: boolean; tlsVerify: boolean },
): Promise<void> {
  const token = adminToken(options);
  if (options.archive !== undefined) {
    if (reference !== undefined) throw new CommandError('give a registry reference or --archive, not both');
    await uploadArchive(name, options.archive, token);
  } else {
    if (reference === undefined) throw new CommandError('give a registry reference (registry/name:tag) or --archive FILE');
    const password = options.passwordStdin ? (await readStdin()).replace(/\r?\n$/, '') : undefined;
    if ((options.username === undefined) !== (password === undefined)) {
      throw new CommandError('registry credentials need both --username and --password-stdin');
    }
    await requestJson({
      url: imagesUrl(),
      method: 'POST',
      token,
      body: {
        name,
        reference,
        ...(options.username !== undefined && { credentials: { username: options.username, password } }),
        ...(!options.tlsVerify && { tls_verify: false }),
      },
    });
  }
  await follow(name, token);
}

export async function imagesRemoveCommand(name: string, options: ImageCommandOptions): Promise<void> {
  await requestJson({ url: imagesUrl(name), method: 'DELETE', token: adminToken(options) });
  process.stderr.write(`removed image ${name}\n`);
}

async function uploadArchive(name: string, path: string, token: string): Promise<void> {
  const { size } = await fs.stat(path).catch(() => {
    throw new CommandError(`cannot read archive ${path}`);
  });
  process.stderr.write(`uploading ${path} (${Math.round(size / 1e6)} MB)\n`);
  let response: Response;
  try {
    response = await fetch(imagesUrl(name, '/archive'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-tar', 'content-length': String(size) },
      body: Readable.toWeb(createReadStream(path)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
  } catch (error) {
    throw new CommandError(`cannot reach ${serverUrl()}: ${(error as Error).cause ?? (error as Error).message}; is "airlock serve" running?`);
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    throw new CommandError(`server answered ${response.status}: ${body.message ?? response.statusText}`);
  }
}

/** Prints the image's new progress lines until it is ready (its description on stdout) or failed (an error). */
async function follow(name: string, token: string): Promise<void> {
  let printed: string[] = [];
  for (;;) {
    const image = await requestJson<ImageSummary>({ url: imagesUrl(name), method: 'GET', token });
    // The server keeps the last lines; print those after the last one printed.
    const overlap = printed.length === 0 ? -1 : image.progress.lastIndexOf(printed[printed.length - 1]!);
    for (const line of image.progress.slice(overlap + 1)) process.stderr.write(`${line}\n`);
    printed = image.progress;
    if (image.status === 'ready') {
      process.stdout.write(`${describe(image)}\n`);
      return;
    }
    if (image.status === 'failed') throw new CommandError(`image ${name} failed: ${image.error ?? 'no reason given'}`);
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
  }
}

function describe(image: ImageSummary): string {
  const { manifest } = image;
  const languages = manifest
    ? Object.entries(manifest.languages)
        .map(([language, entry]) => `${language} ${entry.version}`)
        .join('; ')
    : '';
  const size = manifest ? `${Math.round(manifest.size_bytes / 1e6)} MB` : '-';
  const state = image.status === 'failed' ? `failed: ${image.error}` : image.status;
  return [image.name, state, image.reference ?? image.source, manifest?.version ?? '-', size, languages || '-'].join('\t');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
