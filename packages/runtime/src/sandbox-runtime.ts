import { accessSync, constants, promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { CgroupPool } from './cgroups/cgroup-pool.js';
import { detectCgroupHierarchy } from './cgroups/detect-cgroups.js';
import { ImageStore, type Image, type ProgressListener } from './image/image-store.js';
import { manifestLanguages } from './image/image-manifest.js';
import { BubblewrapDriver } from './sandbox/bubblewrap-driver.js';
import { ForkDriver } from './sandbox/fork-driver.js';
import { PipeFactory } from './sandbox/pipe-factory.js';
import { ProbeSandboxes } from './sandbox/probe-sandboxes.js';
import { hostHasMemoryForRefill } from './pool/host-memory.js';
import { WarmPool, type PoolKey, type PoolStatistics } from './pool/warm-pool.js';
import { SandboxNetworks, type SlotNetwork } from './network/sandbox-networks.js';
import type { PreparedSandbox, SandboxLanguage } from './sandbox/sandbox-types.js';
import { LockHeldError, tryLock, type ReleaseLock } from '@airlock/process-lock';
import { HomeMounts } from './sandbox/home-mounts.js';
import { Spawner } from './sandbox/spawner.js';
import { forkNamespacesPath, loadSeccompProgram, seccompProgramPath, spawnerPath, templateSeccompProgramPath } from './seccomp.js';

export interface SandboxRuntimeOptions {
  /** Per-instance working state (mounts); also names the instance's cgroups so a restart finds what it left. */
  stateDirectory: string;
  /** Where each instance keeps its sandboxes' named pipes, in a directory of its own; /run/airlock by default. */
  pipesRoot?: string;
  /** Where each instance keeps the sockets every sandbox may open, in a directory of its own; /run/airlock-sockets by default. */
  socketsRoot?: string;
  imagesDirectory: string;
  /** Host uid and gid sandboxes run as; must not be 0. */
  sandboxUid: number;
  sandboxGid: number;
  bwrapPath?: string;
  outputLimitBytes: number;
  imageMirror?: string;
  /** Pre-started sandboxes; maxSlots 0 turns the warm pool off (every execution starts a cold sandbox). */
  pool: {
    maxSlots: number;
    maxSlotsPerKey: number;
    maxConcurrentRefills: number;
    idleMs: number;
  };
  onPoolError?: (error: unknown) => void;
  /**
   * Sandboxes with network (docs/decisions/0020-sandbox-network.md): each in a namespace of its own, linked to the
   * host from `subnet` (a /16 as its first two octets) and shaped to `megabitsPerCpu` per configured core. Without
   * it every sandbox has an empty network namespace and asking for network is an error.
   */
  network?: { subnet: string; megabitsPerCpu: number; dnsUpstream?: string[] };
  /** Where each instance keeps the pipes of forked sandboxes (PoolKey.start `fork`); /run/airlock-fork by default. */
  forkPipesRoot?: string;
  /** Modules a python fork template imports before its first fork; DEFAULT_FORK_PRELOAD by default. */
  forkPreload?: readonly string[];
  /** Told when a fork template has started: its image, how long its start and imports took, the preloaded modules the image lacks. */
  onForkTemplateStarted?: (event: { image: string; milliseconds: number; unavailable: string[] }) => void;
}

/** The data stack, imported by python fork templates unless SandboxRuntimeOptions.forkPreload says otherwise. */
export const DEFAULT_FORK_PRELOAD: readonly string[] = ['numpy', 'pandas', 'matplotlib', 'matplotlib.pyplot'];

/** A sandbox for one execution and whether it came pre-started from the warm pool. */
export interface AcquiredSandbox {
  sandbox: PreparedSandbox;
  warm: boolean;
}

export class RuntimeUnavailableError extends Error {
  override readonly name = 'RuntimeUnavailableError';
}

/** The sandbox runtime of one server process: images, cgroups and the bubblewrap driver. */
export class SandboxRuntime {
  readonly images: ImageStore;
  /**
   * Where the server puts the sockets of services every sandbox may call (seen at SANDBOX_HOST_SOCKETS, read-only);
   * a socket there must decide for itself whom it answers.
   */
  readonly hostSocketsDirectory: string;
  readonly cgroupVersion: 1 | 2;
  /** Name of this instance's parent cgroup (derived from the state directory, so a restart finds it). */
  readonly cgroupName: string;
  readonly #driver: BubblewrapDriver;
  readonly #forks: ForkDriver;
  readonly #forkPipes: PipeFactory;
  readonly #cgroups: CgroupPool;
  readonly #pipes: PipeFactory;
  readonly #spawner: Spawner;
  readonly #homes: HomeMounts;
  /** Each loaded image and its root as sandboxes bind it (HomeMounts.mountImage). */
  readonly #loadedImages = new Map<string, LoadedImage>();
  readonly #releaseLock: ReleaseLock;
  readonly #pool: WarmPool | undefined;
  readonly #networks: SandboxNetworks | undefined;
  /** Where errors of background work go (warm pool refills, removing retired images). */
  readonly #onPoolError: ((error: unknown) => void) | undefined;

  private constructor(parts: {
    hostSocketsDirectory: string;
    images: ImageStore;
    driver: BubblewrapDriver;
    forks: ForkDriver;
    forkPipes: PipeFactory;
    cgroups: CgroupPool;
    pipes: PipeFactory;
    spawner: Spawner;
    homes: HomeMounts;
    cgroupName: string;
    releaseLock: ReleaseLock;
    pool: SandboxRuntimeOptions['pool'];
    onPoolError: ((error: unknown) => void) | undefined;
    networks: SandboxNetworks | undefined;
  }) {
    this.#releaseLock = parts.releaseLock;
    this.#networks = parts.networks;
    this.#onPoolError = parts.onPoolError;
    this.#pool =
      parts.pool.maxSlots > 0
        ? new WarmPool({
            ...parts.pool,
            prepare: (key) => this.prepare(key),
            hasMemoryForRefill: () => hostHasMemoryForRefill(),
            onRefillError: parts.onPoolError,
          })
        : undefined;
    this.images = parts.images;
    this.hostSocketsDirectory = parts.hostSocketsDirectory;
    this.#driver = parts.driver;
    this.#forks = parts.forks;
    this.#forkPipes = parts.forkPipes;
    this.#cgroups = parts.cgroups;
    this.#pipes = parts.pipes;
    this.#spawner = parts.spawner;
    this.#homes = parts.homes;
    this.cgroupVersion = parts.cgroups.version;
    this.cgroupName = parts.cgroupName;
  }

  /** Checks the host, removes what a crashed earlier run of the same state directory left, and starts the runtime. */
  static async start(options: SandboxRuntimeOptions): Promise<SandboxRuntime> {
    if (options.sandboxUid === 0 || options.sandboxGid === 0) {
      throw new RuntimeUnavailableError('sandboxes must run as an unprivileged host uid and gid, not 0');
    }
    const bwrapPath = options.bwrapPath ?? '/usr/bin/bwrap';
    try {
      accessSync(bwrapPath, constants.X_OK);
    } catch {
      throw new RuntimeUnavailableError(
        `bubblewrap not found at ${bwrapPath}; install it with: apt-get install -y bubblewrap`,
      );
    }
    loadSeccompProgram();
    try {
      accessSync(spawnerPath(), constants.X_OK);
    } catch {
      throw new RuntimeUnavailableError(`sandbox spawner not found at ${spawnerPath()}; run: npm run build:native`);
    }
    // Traversable, not listable: bubblewrap, running as the sandbox user, reaches the homes below it.
    await fs.mkdir(options.stateDirectory, { recursive: true, mode: 0o711 });
    await fs.chmod(options.stateDirectory, 0o711);
    let releaseLock: ReleaseLock;
    try {
      releaseLock = await tryLock(`${options.stateDirectory}.lock`);
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      throw new RuntimeUnavailableError(
        `runtime state directory ${options.stateDirectory} is in use by process ${error.ownerPid}; stop it or use another data directory`,
      );
    }
    try {
      return await SandboxRuntime.#start(options, bwrapPath, releaseLock);
    } catch (error) {
      await releaseLock();
      throw error;
    }
  }

  static async #start(options: SandboxRuntimeOptions, bwrapPath: string, releaseLock: ReleaseLock): Promise<SandboxRuntime> {
    const instance = createHash('sha256').update(options.stateDirectory).digest('hex').slice(0, 12);
    const cgroupName = `airlock-${instance}`;
    const hierarchy = await detectCgroupHierarchy({ name: cgroupName });
    await hierarchy.initialize();
    const cgroups = new CgroupPool(hierarchy);
    const pipes = await PipeFactory.create({
      // Sandboxes see their pipes' paths (/proc/self/fd); this one names nothing of the data directory.
      directory: join(options.pipesRoot ?? '/run/airlock', instance),
      ownerUid: options.sandboxUid,
      ownerGid: options.sandboxGid,
    });
    const mountRoot = join(options.stateDirectory, 'mounts');
    await assertReachableByOthers(options.stateDirectory, 'runtime state directory');
    // Every sandbox's user may enter it and open what is in it; only root makes anything there. Its path names nothing
    // of the data directory: sandboxes see it in their mount table.
    const socketsRoot = options.socketsRoot ?? '/run/airlock-sockets';
    const hostSocketsDirectory = join(socketsRoot, instance);
    await fs.mkdir(hostSocketsDirectory, { recursive: true, mode: 0o755 });
    for (const directory of [socketsRoot, hostSocketsDirectory]) await fs.chmod(directory, 0o755);
    const spawner = new Spawner(spawnerPath(), mountRoot);
    const homes = await HomeMounts.start(mountRoot, spawner, { uid: options.sandboxUid, gid: options.sandboxGid });
    const driver = new BubblewrapDriver({
      bwrapPath,
      spawner,
      seccompProgramPath: seccompProgramPath(),
      hostUid: options.sandboxUid,
      hostGid: options.sandboxGid,
      pipes,
      homes,
      cgroups,
      outputLimitBytes: options.outputLimitBytes,
      hostSocketsDirectory,
    });
    const forkPipesRoot = options.forkPipesRoot ?? '/run/airlock-fork';
    await fs.mkdir(forkPipesRoot, { recursive: true, mode: 0o711 });
    await fs.chmod(forkPipesRoot, 0o711);
    // Templates run as the sandbox user and open their forks' ends by name: a directory they may traverse.
    const forkPipes = await PipeFactory.create({
      directory: join(forkPipesRoot, instance),
      ownerUid: options.sandboxUid,
      ownerGid: options.sandboxGid,
      mode: 0o711,
    });
    const forks = new ForkDriver({
      bwrapPath,
      spawner,
      seccompProgramPath: seccompProgramPath(),
      hostUid: options.sandboxUid,
      hostGid: options.sandboxGid,
      pipes: forkPipes,
      homes,
      cgroups,
      outputLimitBytes: options.outputLimitBytes,
      hostSocketsDirectory,
      templateSeccompProgramPath: templateSeccompProgramPath(),
      namespaceMakerPath: forkNamespacesPath(),
      preload: options.forkPreload ?? DEFAULT_FORK_PRELOAD,
      onTemplateStarted: ({ rootfs, ...started }) => options.onForkTemplateStarted?.({ image: runtime.#imageOfRoot(rootfs) ?? rootfs, ...started }),
    });
    const images = new ImageStore({
      directory: options.imagesDirectory,
      mirror: options.imageMirror,
      // An imported image's interpreters are discovered by running them in sandboxes of this runtime.
      probe: new ProbeSandboxes(homes, driver),
    });
    const { network } = options;
    const networks =
      network &&
      new SandboxNetworks({
        tag: instance.slice(0, 4),
        subnet: network.subnet,
        megabitsPerSecond: (cpus) => network.megabitsPerCpu * cpus,
        dnsUpstream: network.dnsUpstream,
        stateDirectory: options.stateDirectory,
        runCommand: (argv, output) => spawner.command(argv, output),
      });
    await networks?.start();
    const runtime: SandboxRuntime = new SandboxRuntime({
      hostSocketsDirectory,
      networks,
      images,
      driver,
      forks,
      forkPipes,
      cgroups,
      pipes,
      spawner,
      homes,
      cgroupName,
      releaseLock,
      pool: options.pool,
      onPoolError: options.onPoolError,
    });
    return runtime;
  }

  #imageOfRoot(root: string): string | undefined {
    for (const [name, loaded] of this.#loadedImages) if (loaded.root === root) return name;
    return undefined;
  }

  /** Makes an image available to sandboxes, building it first if it is not on disk. */
  async loadImage(name: string, onProgress?: ProgressListener): Promise<Image> {
    const image = await this.images.ensure(name, onProgress);
    const loaded = this.#loadedImages.get(name);
    if (loaded?.image.manifest.version === image.manifest.version) return loaded.image;
    await assertReachableByOthers(image.rootfs);
    const root = await this.#homes.mountImage({ name, version: image.manifest.version, rootfs: image.rootfs });
    this.#loadedImages.set(name, { image, root, sandboxes: 0, retired: false });
    // A new version replaces the old: the old one's files go once no sandbox runs on it.
    if (loaded) await this.#retire(loaded);
    return image;
  }

  /**
   * Removes an image from this server: it gives out no more sandboxes, its other versions are removed from disk at once
   * and the loaded one once no sandbox runs on it.
   */
  async removeImage(name: string): Promise<void> {
    const loaded = this.#loadedImages.get(name);
    this.#loadedImages.delete(name);
    await this.images.remove(name, { keep: loaded?.image.manifest.version });
    if (loaded) await this.#retire(loaded);
  }

  /**
   * Retires a loaded version: its warm sandboxes are destroyed and its root detached (sandboxes still running on it
   * keep it); its files are removed when the last of them ends.
   */
  async #retire(loaded: LoadedImage): Promise<void> {
    const { name, version } = loaded.image.manifest;
    loaded.retired = true;
    await this.#pool?.drop((key) => key.image === name);
    await this.#forks.dropImage(loaded.root);
    await this.#homes.unmountImage({ name, version });
    if (loaded.sandboxes === 0) await this.#removeRetired(loaded);
  }

  async #removeRetired(loaded: LoadedImage): Promise<void> {
    const { name, version } = loaded.image.manifest;
    if (this.#loadedImages.get(name)?.image.manifest.version === version) return;
    await this.images.removeVersion(name, version).catch((error: unknown) => this.#onPoolError?.(error));
  }

  isImageLoaded(name: string): boolean {
    return this.#loadedImages.has(name);
  }

  /** The languages of a loaded image; null when the image is not loaded on this server. */
  languages(imageName: string): SandboxLanguage[] | null {
    const loaded = this.#loadedImages.get(imageName);
    return loaded ? manifestLanguages(loaded.image.manifest) : null;
  }

  /** A sandbox for one execution: a pre-started one from the warm pool if there is one, else a new (cold) one. */
  async acquire(key: PoolKey): Promise<AcquiredSandbox> {
    // Sandboxes that would start fresh anyway share one pool whatever `start` asked for.
    const options: PoolKey = { ...key, start: forksIn(key) ? 'fork' : 'fresh' };
    const warm = this.#pool?.take(options);
    if (warm) return { sandbox: warm, warm: true };
    return { sandbox: await this.prepare(options), warm: false };
  }

  /**
   * Starts the python fork template of a loaded image ahead of the first call that forks from it (which otherwise
   * waits for its start and imports); resolves once it is ready. Images without python have none.
   */
  async startForkTemplate(image: string): Promise<void> {
    const loaded = this.#loadedImages.get(image);
    if (!loaded) throw new RuntimeUnavailableError(`image "${image}" is not loaded`);
    const interpreter = loaded.image.manifest.languages.python?.interpreter;
    if (interpreter) await this.#forks.startTemplate({ rootfs: loaded.root, interpreter });
  }

  poolStatistics(): PoolStatistics | null {
    return this.#pool?.statistics() ?? null;
  }

  /** Starts a new sandbox; its interpreter waits for code once `ready` resolves. */
  async prepare(options: PoolKey): Promise<PreparedSandbox> {
    const loaded = this.#loadedImages.get(options.image);
    if (!loaded) throw new RuntimeUnavailableError(`image "${options.image}" is not loaded`);
    const interpreter = loaded.image.manifest.languages[options.language]?.interpreter;
    if (!interpreter) throw new RuntimeUnavailableError(`image "${options.image}" has no ${options.language}`);
    let network: SlotNetwork | undefined;
    if (options.network !== undefined && options.network !== 'none') {
      if (!this.#networks) throw new RuntimeUnavailableError('this server runs sandboxes without network (no network option)');
      network = await this.#networks.wire(options.limits.cpus, options.network);
    }
    loaded.sandboxes++;
    const onReleased = (): void => {
      loaded.sandboxes--;
      if (loaded.retired && loaded.sandboxes === 0) void this.#removeRetired(loaded);
    };
    const spec = { rootfs: loaded.root, language: options.language, interpreter, limits: options.limits, network, onReleased };
    try {
      return forksIn(options) ? await this.#forks.prepare(spec) : await this.#driver.prepare(spec);
    } catch (error) {
      onReleased();
      await network?.release();
      throw error;
    }
  }

  get activeSandboxes(): number {
    return this.#cgroups.leasedCount;
  }

  /** Drains the warm pool, kills every sandbox, stops the spawner and removes the instance's cgroups and pipes. */
  async close(): Promise<void> {
    await this.#pool?.close();
    await this.#forks.close();
    await this.#cgroups.close();
    await this.#networks?.close();
    await this.#homes.close();
    await this.#spawner.close();
    await this.#pipes.close();
    await this.#forkPipes.close();
    await fs.rm(this.hostSocketsDirectory, { recursive: true, force: true });
    await this.#releaseLock();
  }
}

/** Whether a sandbox of this key is forked from a template: python without network asked to (PoolKey.start). */
export function forksIn(key: PoolKey): boolean {
  return key.start === 'fork' && key.language === 'python' && (key.network ?? 'none') === 'none';
}

/** An image sandboxes get, and how many sandboxes run on it (their root keeps its files until they end). */
interface LoadedImage {
  image: Image;
  root: string;
  sandboxes: number;
  /** Replaced by a newer version or removed: no new sandboxes; its files go when `sandboxes` reaches 0. */
  retired: boolean;
}

/**
 * bubblewrap runs as the sandbox user, which must be able to reach the image root and the homes through every
 * parent directory.
 */
async function assertReachableByOthers(path: string, what = 'image'): Promise<void> {
  for (let directory = path; ; directory = dirname(directory)) {
    const { mode } = await fs.stat(directory);
    if ((mode & 0o001) === 0) {
      throw new RuntimeUnavailableError(
        `${what} ${path} is not reachable by the sandbox user: ${directory} has mode ${(mode & 0o777).toString(8)}; ` +
          'use a data directory outside private directories such as /root, or run chmod o+x on it',
      );
    }
    if (directory === dirname(directory)) return;
  }
}
