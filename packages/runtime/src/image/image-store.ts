import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { BUILTIN_IMAGE_RECIPES } from './builtin-recipes.js';
import { debianSources } from './debian-sources.js';
import { readInventory } from './image-inventory.js';
import { imageVersion, type ImageRecipe } from './image-recipe.js';
import type { ImageManifest } from './image-manifest.js';
import { fetchRecipeDownloads, type DownloadSources } from './recipe-downloads.js';
import { waitForLock, type ReleaseLock } from '@airlock/process-lock';
import type { ImageProbe } from './image-discovery.js';
import { fetchImage, unpackImage, type ImportTools } from './image-import.js';
import { ImageImportError } from './image-import-error.js';
import type { ImageImportSource } from './image-manifest.js';

export interface Image {
  manifest: ImageManifest;
  rootfs: string;
}

export interface ImageStoreOptions extends DownloadSources {
  directory: string;
  /** A Debian mirror; a snapshot.debian.org URL with a date fixes the archive at that moment. */
  mirror?: string;
  securityMirror?: string;
  mmdebstrapPath?: string;
  /** The programs imports run. */
  importTools?: ImportTools;
  /**
   * Runs an imported image's interpreters in sandboxes, to find its languages; the sandbox runtime gives its own.
   * Without it imports are refused.
   */
  probe?: ImageProbe;
  /** @default the built-in recipes: default and slim */
  recipes?: readonly ImageRecipe[];
}

export type ProgressListener = (line: string) => void;

export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
}

const MANIFEST_FILE = 'image.json';
/** What an imported image may be called; it names a directory, so nothing else. */
const IMPORT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** A build's or an import's staging directory (fs.mkdtemp's six characters at the end) and the image's name. */
const STAGING_DIRECTORY = /^\.(?:build|import)-(.+)-[A-Za-z0-9]{6}$/;
/** Every Debian package of a built image with its version, next to its manifest. */
const DEBIAN_PACKAGES_FILE = 'debian-packages.txt';
/** Markers in the downloads directory: all fetched, a fetch failed, mmdebstrap stopped waiting because of it. */
const DOWNLOADS_COMPLETE = '.complete';
const DOWNLOADS_FAILED = '.failed';
const DOWNLOADS_ABANDONED = '.abandoned';
const WAIT_FOR_DOWNLOADS_HOOK =
  `until [ -e "$1/../downloads/${DOWNLOADS_COMPLETE}" ]; do` +
  ` if [ -e "$1/../downloads/${DOWNLOADS_FAILED}" ]; then touch "$1/../downloads/${DOWNLOADS_ABANDONED}"; exit 1; fi;` +
  ' sleep 0.2; done';

/**
 * Runtime images: root file systems built from Debian packages and pinned downloads, versioned by recipe, cached under
 * one directory.
 */
export class ImageStore {
  readonly #options: ImageStoreOptions;
  readonly #recipes: Map<string, ImageRecipe>;

  constructor(options: ImageStoreOptions) {
    this.#options = options;
    this.#recipes = new Map((options.recipes ?? BUILTIN_IMAGE_RECIPES).map((recipe) => [recipe.name, recipe]));
  }

  get directory(): string {
    return this.#options.directory;
  }

  recipeNames(): string[] {
    return [...this.#recipes.keys()];
  }

  /**
   * Every built or imported image on disk, current or not: a recipe's current version is its recipe's, an imported
   * image's its latest import.
   */
  async list(): Promise<Array<Image & { current: boolean }>> {
    const images = await this.#readAll();
    const current = (image: Image): boolean => {
      const recipe = this.#recipes.get(image.manifest.name);
      if (recipe) return image.manifest.source.kind === 'recipe' && imageVersion(recipe) === image.manifest.version;
      return latestImport(images, image.manifest.name) === image;
    };
    return images
      .map((image) => ({ ...image, current: current(image) }))
      .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
  }

  /** The current version of an image if it is on disk: a recipe's if it is built, an imported image's latest. */
  async get(name: string): Promise<Image | null> {
    const recipe = this.#recipes.get(name);
    if (recipe) return this.#read(this.#imageDirectory(recipe));
    return latestImport(await this.#readAll(), name);
  }

  /** The current version of an image, built first if needed (one build at a time per image, across processes). */
  async ensure(name: string, onProgress: ProgressListener = () => undefined): Promise<Image> {
    return (await this.get(name)) ?? this.build(name, { onProgress });
  }

  async build(name: string, options: { onProgress?: ProgressListener; force?: boolean } = {}): Promise<Image> {
    const recipe = this.#recipe(name);
    const onProgress = options.onProgress ?? (() => undefined);
    await fs.mkdir(this.#options.directory, { recursive: true, mode: 0o755 });
    const release = await waitForLock(join(this.#options.directory, `.${name}.lock`), () =>
      onProgress(`waiting for another process building image ${name}`),
    );
    try {
      const target = this.#imageDirectory(recipe);
      if (!options.force) {
        const existing = await this.#read(target);
        if (existing) return existing;
      }
      const staging = await fs.mkdtemp(join(this.#options.directory, `.build-${name}-`));
      try {
        await fs.chmod(staging, 0o755);
        // Beside the root file system, where the recipe's hooks find it as "$1/../downloads".
        const downloads = join(staging, 'downloads');
        await fs.mkdir(downloads);
        await this.#fetchAndBootstrap(recipe, { rootfs: join(staging, 'rootfs'), downloads }, onProgress);
        await fs.rm(downloads, { recursive: true });
        const inventory = await readInventory(join(staging, 'rootfs'), recipe);
        const manifest: ImageManifest = {
          name: recipe.name,
          version: imageVersion(recipe),
          source: { kind: 'recipe', suite: recipe.suite },
          architecture: 'amd64',
          libc: inventory.libc,
          languages: inventory.languages,
          packages: inventory.packages,
          builtAt: new Date().toISOString(),
          sizeBytes: await directorySize(join(staging, 'rootfs')),
        };
        await fs.writeFile(join(staging, DEBIAN_PACKAGES_FILE), inventory.debianPackages);
        return await this.#install(staging, target, manifest, onProgress);
      } catch (error) {
        await fs.rm(staging, { recursive: true, force: true });
        throw error instanceof ImageBuildError ? error : new ImageBuildError(`image ${name}: ${(error as Error).message}`);
      }
    } finally {
      await release();
    }
  }

  /**
   * Imports an OCI image from a registry or an archive on disk (docs/decisions/0026-oci-image-import.md): skopeo
   * copies it for this host's architecture, umoci unpacks it, device nodes, setuid and setgid bits and file
   * capabilities are neutralised, the mount points and the sandbox user are added, and its C library and languages
   * are discovered (the interpreters run in sandboxes). The new version (named by its manifest digest) is the image's
   * current one once it is complete (earlier versions stay until SandboxRuntime retires them, or until cleanup); an
   * import that fails leaves nothing behind. One build or import of a name at a time, across processes.
   */
  async import(name: string, source: ImageImportSource, options: { onProgress?: ProgressListener } = {}): Promise<Image> {
    const onProgress = options.onProgress ?? (() => undefined);
    const probe = this.#options.probe;
    if (!IMPORT_NAME.test(name)) {
      throw new ImageImportError(`"${name}" is not an image name: lowercase letters, digits, dots, dashes and underscores, at most 63`);
    }
    if (this.#recipes.has(name)) throw new ImageImportError(`"${name}" is a recipe image's name; import under another name`);
    if (!probe) throw new ImageImportError('importing an image needs the sandbox runtime, which runs its interpreters to discover them');
    const release = await this.#lock(name, onProgress);
    try {
      const staging = await fs.mkdtemp(join(this.#options.directory, `.import-${name}-`));
      try {
        const context = { staging, source, tools: this.#options.importTools ?? {}, probe, onProgress };
        const fetched = await fetchImage(context);
        const target = join(this.#options.directory, `${name}-${fetched.version}`);
        const existing = await this.#read(target);
        if (existing?.manifest.name === name && existing.manifest.source.kind !== 'recipe') {
          onProgress(`image ${name} ${fetched.version} is already imported`);
          await fs.rm(staging, { recursive: true, force: true });
          return existing;
        }
        const imported = await unpackImage(context, fetched);
        const manifest: ImageManifest = { name, ...imported, packages: [], builtAt: new Date().toISOString() };
        await fs.chmod(staging, 0o755);
        return await this.#install(staging, target, manifest, onProgress);
      } catch (error) {
        await fs.rm(staging, { recursive: true, force: true });
        throw error;
      }
    } finally {
      await release();
    }
  }

  /**
   * Removes every version of an image from disk but `keep` (a recipe image is built again when next needed; a version
   * sandboxes still run on is kept, to be removed with removeVersion once they end).
   */
  async remove(name: string, options: { keep?: string | undefined } = {}): Promise<void> {
    await this.#removeVersions(name, (version) => version !== options.keep);
  }

  /** Removes one version of an image from disk. */
  async removeVersion(name: string, version: string): Promise<void> {
    await this.#removeVersions(name, (candidate) => candidate === version);
  }

  async #removeVersions(name: string, matches: (version: string) => boolean): Promise<void> {
    const release = await this.#lock(name, () => undefined);
    try {
      for (const image of await this.#readAll()) {
        if (image.manifest.name === name && matches(image.manifest.version)) {
          await fs.rm(dirname(image.rootfs), { recursive: true, force: true });
        }
      }
    } finally {
      await release();
    }
  }

  /**
   * Removes what interrupted builds and imports left: their staging directories (`.build-*`, `.import-*`) and imported
   * versions older than an image's latest, each under its image's lock. The server calls it as it starts.
   */
  async cleanup(): Promise<void> {
    const entries = await fs.readdir(this.#options.directory).catch(() => []);
    for (const entry of entries) {
      const name = STAGING_DIRECTORY.exec(entry)?.[1];
      if (name === undefined) continue;
      const release = await this.#lock(name, () => undefined);
      try {
        await fs.rm(join(this.#options.directory, entry), { recursive: true, force: true });
      } finally {
        await release();
      }
    }
    const images = await this.#readAll();
    for (const name of new Set(images.map((image) => image.manifest.name))) {
      const latest = this.#recipes.has(name) ? null : latestImport(images, name);
      if (!latest) continue;
      const release = await this.#lock(name, () => undefined);
      try {
        await this.#removeImported(name, latest.manifest.version);
      } finally {
        await release();
      }
    }
  }

  /** Writes a complete image's manifest and moves it from its staging directory into place. */
  async #install(staging: string, target: string, manifest: ImageManifest, onProgress: ProgressListener): Promise<Image> {
    await fs.writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await fs.rm(target, { recursive: true, force: true });
    await fs.rename(staging, target);
    onProgress(`image ${manifest.name} ${manifest.version} ready (${Math.round(manifest.sizeBytes / 1e6)} MB)`);
    return { manifest, rootfs: join(target, 'rootfs') };
  }

  /** The inter-process lock of one image's builds, imports and removal. */
  async #lock(name: string, onProgress: ProgressListener): Promise<ReleaseLock> {
    await fs.mkdir(this.#options.directory, { recursive: true, mode: 0o755 });
    return waitForLock(join(this.#options.directory, `.${name}.lock`), () => onProgress(`waiting for another process working on image ${name}`));
  }

  /** Removes the imported versions of an image other than `keep`; call under its lock. */
  async #removeImported(name: string, keep: string): Promise<void> {
    for (const image of await this.#readAll()) {
      const { manifest } = image;
      if (manifest.name === name && manifest.source.kind !== 'recipe' && manifest.version !== keep) {
        await fs.rm(dirname(image.rootfs), { recursive: true, force: true });
      }
    }
  }

  /** Every complete image on disk (a directory with its manifest). */
  async #readAll(): Promise<Image[]> {
    const entries = await fs.readdir(this.#options.directory, { withFileTypes: true }).catch(() => []);
    const images: Image[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const image = await this.#read(join(this.#options.directory, entry.name));
      if (image) images.push(image);
    }
    return images;
  }

  #recipe(name: string): ImageRecipe {
    const recipe = this.#recipes.get(name);
    if (!recipe) throw new ImageBuildError(`unknown image "${name}"; known images: ${this.recipeNames().join(', ')}`);
    return recipe;
  }

  #imageDirectory(recipe: ImageRecipe): string {
    return join(this.#options.directory, `${recipe.name}-${imageVersion(recipe)}`);
  }

  async #read(directory: string): Promise<Image | null> {
    try {
      const manifest = JSON.parse(await fs.readFile(join(directory, MANIFEST_FILE), 'utf8')) as ImageManifest;
      // A manifest of the format before image sources (an image built by an older Airlock) is no image of this one.
      if (typeof manifest.source?.kind !== 'string') return null;
      return { manifest, rootfs: join(directory, 'rootfs') };
    } catch {
      return null;
    }
  }

  /**
   * Fetches the recipe's downloads while mmdebstrap installs the Debian packages: its first customize hook waits for
   * them. A failed download ends mmdebstrap at that hook and is the error reported; a failed mmdebstrap stops the
   * downloads. Settles once both have.
   */
  async #fetchAndBootstrap(
    recipe: ImageRecipe,
    paths: { rootfs: string; downloads: string },
    onProgress: ProgressListener,
  ): Promise<void> {
    const marker = (name: string): string => join(paths.downloads, name);
    const abort = new AbortController();
    const fetching = fetchRecipeDownloads(recipe, paths.downloads, this.#options, { onProgress, signal: abort.signal }).then(
      () => fs.writeFile(marker(DOWNLOADS_COMPLETE), ''),
      async (error: unknown) => {
        await fs.writeFile(marker(DOWNLOADS_FAILED), '');
        throw error;
      },
    );
    const bootstrapping = this.#bootstrap(recipe, paths.rootfs, onProgress).catch((error: unknown) => {
      abort.abort();
      throw error;
    });
    const [fetched, bootstrapped] = await Promise.allSettled([fetching, bootstrapping]);
    if (bootstrapped.status === 'fulfilled') return;
    const gaveUp = await fs.access(marker(DOWNLOADS_ABANDONED)).then(() => true, () => false);
    throw fetched.status === 'rejected' && gaveUp ? fetched.reason : bootstrapped.reason;
  }

  async #bootstrap(recipe: ImageRecipe, rootfs: string, onProgress: ProgressListener): Promise<void> {
    const { sources, aptOptions } = debianSources({
      suite: recipe.suite,
      mirror: this.#options.mirror,
      securityMirror: this.#options.securityMirror,
    });
    const command = this.#options.mmdebstrapPath ?? 'mmdebstrap';
    const args = [
      '--variant=minbase',
      '--mode=auto',
      '--format=directory',
      `--include=${recipe.packages.join(',')}`,
      ...aptOptions.map((option) => `--aptopt=${option}`),
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      '--dpkgopt=path-include=/usr/share/doc/*/copyright',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/locale/*',
      ...[WAIT_FOR_DOWNLOADS_HOOK, ...recipe.customizeHooks].map((hook) => `--customize-hook=${hook}`),
      recipe.suite,
      rootfs,
      ...sources,
    ];
    onProgress(`building image ${recipe.name} from Debian ${recipe.suite} (${recipe.packages.length} packages)`);
    const tail: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const onLine = (line: string): void => {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        onProgress(line);
      };
      createInterface({ input: child.stdout }).on('line', onLine);
      createInterface({ input: child.stderr }).on('line', onLine);
      child.on('error', (error: NodeJS.ErrnoException) =>
        reject(
          new ImageBuildError(
            error.code === 'ENOENT'
              ? 'mmdebstrap is not installed; install it with: apt-get install -y mmdebstrap'
              : `could not start mmdebstrap: ${error.message}`,
          ),
        ),
      );
      child.on('close', (code) =>
        code === 0
          ? resolve()
          : reject(new ImageBuildError(`mmdebstrap failed with exit code ${code}:\n${tail.join('\n')}`)),
      );
    });
  }
}

/** The latest import of an image among `images`, or null when it has none. */
function latestImport(images: readonly Image[], name: string): Image | null {
  let latest: Image | null = null;
  for (const image of images) {
    if (image.manifest.name !== name || image.manifest.source.kind === 'recipe') continue;
    if (!latest || image.manifest.builtAt > latest.manifest.builtAt) latest = image;
  }
  return latest;
}

async function directorySize(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await fs.lstat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
