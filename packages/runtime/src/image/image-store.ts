import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SandboxLanguage } from '../sandbox/sandbox-types.js';
import { DEFAULT_IMAGE_RECIPE, imageVersion, type ImageRecipe } from './image-recipe.js';
import type { ImageLanguage, ImageManifest } from './image-manifest.js';
import { waitForLock } from '@airlock/process-lock';

export interface Image {
  manifest: ImageManifest;
  rootfs: string;
}

export interface ImageStoreOptions {
  directory: string;
  mirror?: string;
  securityMirror?: string;
  mmdebstrapPath?: string;
  recipes?: ImageRecipe[];
}

export type ProgressListener = (line: string) => void;

export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
}

const MANIFEST_FILE = 'image.json';

/** Runtime images: root file systems built from Debian packages, versioned by recipe, cached under one directory. */
export class ImageStore {
  readonly #options: ImageStoreOptions;
  readonly #recipes: Map<string, ImageRecipe>;

  constructor(options: ImageStoreOptions) {
    this.#options = options;
    this.#recipes = new Map((options.recipes ?? [DEFAULT_IMAGE_RECIPE]).map((recipe) => [recipe.name, recipe]));
  }

  get directory(): string {
    return this.#options.directory;
  }

  recipeNames(): string[] {
    return [...this.#recipes.keys()];
  }

  /** Every built image on disk, current or not. */
  async list(): Promise<Array<Image & { current: boolean }>> {
    const entries = await fs.readdir(this.#options.directory, { withFileTypes: true }).catch(() => []);
    const images: Array<Image & { current: boolean }> = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const image = await this.#read(join(this.#options.directory, entry.name));
      if (!image) continue;
      const recipe = this.#recipes.get(image.manifest.name);
      images.push({ ...image, current: recipe !== undefined && imageVersion(recipe) === image.manifest.version });
    }
    return images.sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
  }

  /** The current version of an image if it is built. */
  async get(name: string): Promise<Image | null> {
    return this.#read(this.#imageDirectory(this.#recipe(name)));
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
        await this.#bootstrap(recipe, join(staging, 'rootfs'), onProgress);
        const manifest: ImageManifest = {
          name: recipe.name,
          version: imageVersion(recipe),
          source: { kind: 'recipe', suite: recipe.suite },
          architecture: 'amd64',
          libc: null,
          languages: await readLanguages(join(staging, 'rootfs'), recipe),
          packages: [],
          builtAt: new Date().toISOString(),
          sizeBytes: await directorySize(join(staging, 'rootfs')),
        };
        await fs.writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
        await fs.rm(target, { recursive: true, force: true });
        await fs.rename(staging, target);
        onProgress(`image ${name} ${manifest.version} ready (${Math.round(manifest.sizeBytes / 1e6)} MB)`);
        return { manifest, rootfs: join(target, 'rootfs') };
      } catch (error) {
        await fs.rm(staging, { recursive: true, force: true });
        throw error;
      }
    } finally {
      await release();
    }
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
      return { manifest, rootfs: join(directory, 'rootfs') };
    } catch {
      return null;
    }
  }

  async #bootstrap(recipe: ImageRecipe, rootfs: string, onProgress: ProgressListener): Promise<void> {
    const mirror = this.#options.mirror ?? 'http://deb.debian.org/debian';
    const securityMirror = this.#options.securityMirror ?? 'http://deb.debian.org/debian-security';
    const command = this.#options.mmdebstrapPath ?? 'mmdebstrap';
    const args = [
      '--variant=minbase',
      '--mode=auto',
      '--format=directory',
      `--include=${recipe.packages.join(',')}`,
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      '--dpkgopt=path-include=/usr/share/doc/*/copyright',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/locale/*',
      ...recipe.customizeHooks.map((hook) => `--customize-hook=${hook}`),
      recipe.suite,
      rootfs,
      `deb ${mirror} ${recipe.suite} main`,
      `deb ${mirror} ${recipe.suite}-updates main`,
      `deb ${securityMirror} ${recipe.suite}-security main`,
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

async function readLanguages(rootfs: string, recipe: ImageRecipe): Promise<Partial<Record<SandboxLanguage, ImageLanguage>>> {
  const languages: Partial<Record<SandboxLanguage, ImageLanguage>> = {};
  for (const [language, interpreter] of Object.entries(recipe.interpreters) as Array<[SandboxLanguage, string]>) {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('chroot', [rootfs, interpreter, '--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve(text) : reject(new ImageBuildError(`${interpreter} --version failed in the new image: ${text}`)),
      );
    });
    languages[language] = { interpreter, version: output.split('\n')[0]!.trim() };
  }
  return languages;
}

async function directorySize(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await fs.lstat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
