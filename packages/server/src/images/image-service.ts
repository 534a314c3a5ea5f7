import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, type ImageSummary, type ImportImageRequest, type SandboxImageFacts } from '@airlock/contracts';
import type { ImageOrigin, ImageRecord, ImageRepository } from '@airlock/db';
import { manifestLanguages, type Image, type ImageImportSource, type ImageManifest } from '@airlock/runtime';
import { ApiError } from '../shared/api-error.js';
import type { Logger } from '../shared/logger.js';
import type { SecretBox } from '../shared/secret-box.js';
import { ImageProgress } from './image-progress.js';
import { summarizeImage } from './image-summaries.js';

/** What the image catalog needs of the sandbox runtime and its image store. */
export interface ImageRuntime {
  recipeNames(): string[];
  /** The image on this server's disk (a recipe's current version, an import's latest), or null. */
  onDisk(name: string): Promise<Image | null>;
  build(name: string, onProgress: (line: string) => void): Promise<Image>;
  import(name: string, source: ImageImportSource, onProgress: (line: string) => void): Promise<Image>;
  /** Makes the image on disk the one sandboxes get (the previous version goes once no sandbox runs on it). */
  load(name: string): Promise<Image>;
  /** Stops giving out sandboxes on the image and removes it from disk (a version in use once its sandboxes end). */
  remove(name: string): Promise<void>;
  /** Removes what interrupted builds and imports left. */
  cleanup(): Promise<void>;
}

export interface ImageServiceOptions {
  repository: ImageRepository;
  runtime: ImageRuntime;
  box: SecretBox;
  logger: Logger;
  /** Where uploaded archives wait for their import (removed after it, and at start). */
  uploadDirectory: string;
  /** The largest archive an upload may send. */
  archiveMaxBytes: number;
}

/** The image every sandbox config names unless it names another; it cannot be removed. */
export const DEFAULT_IMAGE = 'default';
const INTERRUPTED = 'interrupted: the server stopped during the import; import the image again';
const credentialsContext = (name: string): string => `images.credentials:${name}`;

/**
 * The installation's runtime images: recipe images Airlock builds and OCI images operators import, recorded in the
 * catalog (table images) and kept on this server's disk. Builds and imports run in the background; their progress is
 * kept here for answers and written to the server log.
 */
export class ImageService {
  readonly #options: ImageServiceOptions;
  readonly #progress: ImageProgress;
  readonly #jobs = new Set<Promise<void>>();
  /** The manifest of each image loaded on this server. */
  readonly #loaded = new Map<string, ImageManifest>();

  constructor(options: ImageServiceOptions) {
    this.#options = options;
    this.#progress = new ImageProgress(options.logger);
  }

  /**
   * Brings the catalog and this server's disk together: recipes are in the catalog, imports a stopped server left
   * pending are failed, leftovers of interrupted work are removed, every image on disk is loaded, and the default image
   * is built when it is not on disk yet (reported through `onProgress`).
   */
  async start(onProgress?: (line: string) => void): Promise<void> {
    const { repository, runtime, logger } = this.#options;
    for (const name of runtime.recipeNames()) await repository.addRecipe(name);
    for (const name of await repository.failPending(INTERRUPTED)) logger.warn('image import interrupted', { image: name });
    await runtime.cleanup();
    await fs.rm(this.#options.uploadDirectory, { recursive: true, force: true });
    await fs.mkdir(this.#options.uploadDirectory, { recursive: true, mode: 0o700 });
    for (const record of await repository.list()) {
      if (record.name === DEFAULT_IMAGE) continue;
      const image = await runtime.onDisk(record.name);
      if (image) {
        await this.#load(record.name);
        if (record.status !== 'ready' && record.source === 'recipe') await repository.markReady(record.name, image.manifest);
      } else if (record.source === 'recipe') {
        await repository.markNotBuilt(record.name);
      } else if (record.source === 'registry' && record.status === 'ready') {
        await this.#begin(record.name, record).then(
          (started) => this.#pull(started),
          (error: unknown) => logger.warn('image not pulled again', { image: record.name, error: String(error) }),
        );
      } else if (record.source === 'archive' && record.status === 'ready') {
        await repository.markFailed(record.name, 'not on this server (its archive was imported elsewhere or removed); upload it again');
      }
    }
    const built = await runtime.build(DEFAULT_IMAGE, (line) => {
      onProgress?.(line);
      this.#progress.add(DEFAULT_IMAGE, line);
    });
    this.#progress.finish(DEFAULT_IMAGE);
    await this.#load(DEFAULT_IMAGE);
    await repository.markReady(DEFAULT_IMAGE, built.manifest);
  }

  /** What an image other than the default runs, as tool descriptions tell models; undefined for the default image. */
  facts(name: string): SandboxImageFacts | undefined {
    const manifest = this.#loaded.get(name);
    if (name === DEFAULT_IMAGE || !manifest) return undefined;
    return { name, languages: manifestLanguages(manifest).map((language) => ({ language, version: manifest.languages[language]!.version })) };
  }

  async list(): Promise<ImageSummary[]> {
    const records = await this.#options.repository.list();
    return Promise.all(records.map((record) => this.#summary(record)));
  }

  async get(name: string): Promise<ImageSummary> {
    return this.#summary(await this.#record(name));
  }

  /** Starts pulling an image from a registry (202); a new version replaces the old once it is complete. */
  async importFromRegistry(request: ImportImageRequest): Promise<ImageSummary> {
    const { box } = this.#options;
    const origin: ImageOrigin = {
      source: 'registry',
      reference: request.reference,
      tlsVerify: request.tls_verify ?? true,
      username: request.credentials?.username ?? null,
      sealedCredentials: request.credentials ? box.seal(JSON.stringify(request.credentials), credentialsContext(request.name)) : null,
    };
    const record = await this.#begin(request.name, origin);
    this.#pull(record);
    return this.#summary(record);
  }

  /** Pulls a registry image in the background, with the credentials sealed in its record. */
  #pull(record: ImageRecord): void {
    const { reference, sealedCredentials, tlsVerify, name } = record;
    this.#run(name, (onProgress) => {
      if (reference === null) throw new Error(`image "${name}" has no registry reference`);
      // A master key that no longer opens them fails this import, not the server.
      const credentials = sealedCredentials
        ? (JSON.parse(this.#options.box.open(sealedCredentials, credentialsContext(name))) as { username: string; password: string })
        : undefined;
      return this.#options.runtime.import(name, { kind: 'registry', reference, tlsVerify, ...(credentials && { credentials }) }, onProgress);
    });
  }

  /**
   * Stores an uploaded OCI layout or `docker save` archive, then imports it in the background (202). The body is
   * streamed to disk, never held in memory; over `archiveMaxBytes` it is 413 and nothing is recorded.
   */
  async importArchive(name: string, body: Readable, contentLength: number | undefined): Promise<ImageSummary> {
    const { archiveMaxBytes, uploadDirectory } = this.#options;
    if (contentLength !== undefined && contentLength > archiveMaxBytes) {
      throw new ApiError(ErrorCode.payloadTooLarge, `an image archive may have at most ${archiveMaxBytes} bytes`);
    }
    await this.#assertImportable(name);
    const path = join(uploadDirectory, `${name}-${randomBytes(6).toString('hex')}.tar`);
    try {
      let received = 0;
      body.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > archiveMaxBytes) {
          body.destroy(new ApiError(ErrorCode.payloadTooLarge, `an image archive may have at most ${archiveMaxBytes} bytes`));
        }
      });
      await pipeline(body, createWriteStream(path, { mode: 0o600 }));
      if (received === 0) throw ApiError.validation('body: send the archive (an OCI layout or `docker save` tar) as the request body');
      const record = await this.#begin(name, { source: 'archive' });
      this.#run(name, (onProgress) => this.#options.runtime.import(name, { kind: 'archive', path }, onProgress), () =>
        fs.rm(path, { force: true }),
      );
      return this.#summary(record);
    } catch (error) {
      await fs.rm(path, { force: true });
      throw body.errored instanceof ApiError ? body.errored : error;
    }
  }

  /** Rebuilds a recipe image (202); sandboxes keep the current version until the new one is complete. */
  async build(name: string): Promise<ImageSummary> {
    const existing = await this.#record(name);
    if (existing.source !== 'recipe') {
      throw ApiError.validation(`image "${name}" was imported (${existing.source}), not built from a recipe; import it again instead`);
    }
    const record = await this.#begin(name, { source: 'recipe' });
    this.#run(name, (onProgress) => this.#options.runtime.build(name, onProgress));
    return this.#summary(record);
  }

  /**
   * Removes an image from the catalog and this server's disk. Refused (409) while sandbox configs name it, while it is
   * being built or imported, and for the default image.
   */
  async remove(name: string): Promise<void> {
    const record = await this.#record(name);
    if (name === DEFAULT_IMAGE) throw new ApiError(ErrorCode.conflict, 'the default image cannot be removed; sandbox configs fall back to it');
    if (record.status === 'pending') throw new ApiError(ErrorCode.conflict, `image "${name}" is being built or imported; remove it once that ends`);
    const { deleted, usedBy } = await this.#options.repository.delete(name);
    if (usedBy.length > 0) {
      throw new ApiError(ErrorCode.conflict, `image "${name}" is used by sandbox configs ${usedBy.join(', ')}; give them another image first`);
    }
    if (!deleted) throw ApiError.notFound(`no image "${name}"`);
    this.#loaded.delete(name);
    await this.#options.runtime.remove(name);
    this.#options.logger.info('image removed', { image: name });
  }

  /** Waits for the builds and imports running in the background. */
  async idle(): Promise<void> {
    while (this.#jobs.size > 0) await Promise.allSettled([...this.#jobs]);
  }

  async #load(name: string): Promise<void> {
    const image = await this.#options.runtime.load(name);
    this.#loaded.set(name, image.manifest);
  }

  async #record(name: string): Promise<ImageRecord> {
    const record = await this.#options.repository.get(name);
    if (!record) throw ApiError.notFound(`no image "${name}"; list them with GET /admin/v1/images`);
    return record;
  }

  async #assertImportable(name: string): Promise<void> {
    const record = await this.#options.repository.get(name);
    if (record?.source === 'recipe') {
      throw new ApiError(ErrorCode.conflict, `"${name}" is a recipe image built by Airlock; import under another name`);
    }
    if (record?.status === 'pending') throw new ApiError(ErrorCode.conflict, `image "${name}" is being imported already`);
  }

  async #begin(name: string, origin: ImageOrigin): Promise<ImageRecord> {
    if (origin.source !== 'recipe') await this.#assertImportable(name);
    const record = await this.#options.repository.begin(name, origin);
    if (!record) throw new ApiError(ErrorCode.conflict, `image "${name}" is being built or imported already`);
    this.#progress.start(name);
    return record;
  }

  /** Runs a build or import in the background, recording its outcome in the catalog and loading the new version. */
  #run(name: string, work: (onProgress: (line: string) => void) => Promise<Image>, after?: () => Promise<unknown>): void {
    const { repository, logger } = this.#options;
    const job = (async () => {
      try {
        const image = await work((line) => this.#progress.add(name, line));
        await this.#load(name);
        await repository.markReady(name, image.manifest);
        logger.info('image ready', { image: name, version: image.manifest.version });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await repository.markFailed(name, message).catch(() => undefined);
        logger.error('image import failed', { image: name, error: message });
      } finally {
        this.#progress.finish(name);
        await after?.().catch(() => undefined);
      }
    })();
    this.#jobs.add(job);
    void job.finally(() => this.#jobs.delete(job));
  }

  async #summary(record: ImageRecord): Promise<ImageSummary> {
    return summarizeImage(record, {
      progress: this.#progress.lines(record.name),
      usedBy: await this.#options.repository.usedBy(record.name),
    });
  }
}
