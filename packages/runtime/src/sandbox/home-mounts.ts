import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, promises as fs, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { StorageAttachment } from './sandbox-types.js';
import type { Spawner } from './spawner.js';

const run = promisify(execFile);

/**
 * Overlay options that keep the upper directory a plain diff: whole files (no metadata-only copies), no redirects
 * of renamed directories, no index; whiteouts and opaque directories are the only overlay-specific entries in it.
 */
const OVERLAY_OPTIONS = 'redirect_dir=off,index=off,metacopy=off,xino=off';
/** /data holds only the mount points of storage: a few directories. */
const DATA_DIRECTORY_BYTES = 64 * 1024;
/** How many directories of removed homes are kept for new ones (about one per sandbox that runs at a time). */
const MAX_EMPTIED_HOMES = 256;

/**
 * The sandboxes' home directories and image roots, as host mount points below one root that is a shared mount. Each sandbox's home
 * is bound into it at /home/sandbox when it starts; because the bind is a slave of the host's mount, a mount the
 * host makes on that directory later (a thread's layers, after a warm sandbox is taken) appears in the running
 * sandbox at once. Mounts are made by the spawner; the root is set up and torn down with mount(8).
 */
export class HomeMounts {
  readonly root: string;
  readonly #spawner: Spawner;
  readonly #owner: { uid: number; gid: number };
  /** Directories of removed homes, with nothing left in them but their empty `home` and `data` mount points. */
  readonly #emptied: string[] = [];
  #counter = 0;

  private constructor(root: string, spawner: Spawner, owner: { uid: number; gid: number }) {
    this.root = root;
    this.#spawner = spawner;
    this.#owner = owner;
  }

  /**
   * Detaches whatever a crashed earlier run left mounted below `root`, then makes `root` an empty shared mount that
   * the sandbox user can traverse (but not list).
   */
  static async start(root: string, spawner: Spawner, owner: { uid: number; gid: number }): Promise<HomeMounts> {
    await detachTree(root);
    await fs.rm(root, { recursive: true, force: true });
    await fs.mkdir(root, { recursive: true, mode: 0o711 });
    await fs.chmod(root, 0o711);
    await run('mount', ['--bind', root, root]);
    // A peer group of its own: the homes of this runtime propagate to its sandboxes only, not to the host's other
    // mounts or to another runtime's.
    await run('mount', ['--make-private', root]);
    await run('mount', ['--make-shared', root]);
    return new HomeMounts(root, spawner, owner);
  }

  /** A fresh home: a tmpfs of `bytes` owned by the sandbox user, to be bound at /home/sandbox. */
  async create(bytes: number): Promise<SandboxHome> {
    let directory = this.#emptied.pop();
    if (directory === undefined) {
      directory = join(this.root, `h${this.#counter++}`);
      await fs.mkdir(join(directory, 'home'), { recursive: true, mode: 0o711 });
      await fs.mkdir(join(directory, 'data'), { mode: 0o755 });
      await fs.chmod(directory, 0o711);
    }
    const home = new SandboxHome(directory, this.#spawner, this.#owner, bytes, (emptied) => this.#keep(emptied));
    try {
      await this.#spawner.mount('tmpfs', home.path, tmpfsOptions(bytes, 0o700, this.#owner));
      // A file system of its own, so the sandbox's mount table shows no host path for /data.
      await this.#spawner.mount('tmpfs', home.dataPath, tmpfsOptions(DATA_DIRECTORY_BYTES, 0o755, { uid: 0, gid: 0 }));
    } catch (error) {
      await home.remove();
      throw error;
    }
    return home;
  }

  async #keep(emptied: string): Promise<void> {
    if (this.#emptied.length < MAX_EMPTIED_HOMES) this.#emptied.push(emptied);
    else await fs.rm(emptied, { recursive: true, force: true });
  }

  /**
   * A read-only overlay of an image's root file system, for sandboxes to bind at `/`. Bound directly, the rootfs
   * directory's host path would show in every sandbox's mount table; the overlay's root is its own, and its options
   * name the rootfs by a symbolic link relative to the mount's directory (`lowerdir=image:empty`).
   */
  async mountImage(image: { name: string; version: string; rootfs: string }): Promise<string> {
    const directory = join(this.root, `image-${image.name}-${image.version}`);
    await fs.mkdir(join(directory, 'root'), { recursive: true, mode: 0o711 });
    await fs.chmod(directory, 0o711);
    // An overlay without an upper directory needs two lower ones; the second is empty.
    await fs.mkdir(join(directory, 'empty'), { mode: 0o755 });
    await fs.symlink(image.rootfs, join(directory, 'image'));
    const root = join(directory, 'root');
    await this.#spawner.mount('overlay', root, 'lowerdir=image:empty');
    return root;
  }

  /** Detaches an image's overlay (sandboxes still running on it keep it) and removes its mount directory. */
  async unmountImage(image: { name: string; version: string }): Promise<void> {
    const directory = join(this.root, `image-${image.name}-${image.version}`);
    await this.#spawner.unmount(join(directory, 'root'));
    await fs.rm(directory, { recursive: true, force: true });
  }

  /** Detaches every home mount and the root itself. */
  async close(): Promise<void> {
    await detachTree(this.root);
    await fs.rm(this.root, { recursive: true, force: true });
  }
}

/**
 * One sandbox's home and storage: `path` is bound at /home/sandbox and `dataPath` at /data; layers can be attached
 * over the home, and storage below /data, until the code runs.
 */
export class SandboxHome {
  /** The host directory bound at /home/sandbox. */
  readonly path: string;
  /**
   * The host directory bound at /data (owned by root, mode 0755: the sandbox makes nothing in it); its subdirectories
   * are the mount points of storage.
   */
  readonly dataPath: string;
  readonly #directory: string;
  readonly #spawner: Spawner;
  readonly #owner: { uid: number; gid: number };
  readonly #bytes: number;
  readonly #mounts: string[];
  /** Takes the directory of a home removed without layers, all its mounts detached, for a later home. */
  readonly #onEmptied: (directory: string) => Promise<void>;
  #layered = false;
  #removed = false;

  constructor(directory: string, spawner: Spawner, owner: { uid: number; gid: number }, bytes: number, onEmptied: (directory: string) => Promise<void>) {
    this.#directory = directory;
    this.#onEmptied = onEmptied;
    this.path = join(directory, 'home');
    this.dataPath = join(directory, 'data');
    this.#spawner = spawner;
    this.#owner = owner;
    this.#bytes = bytes;
    this.#mounts = [this.path, this.dataPath];
  }

  /**
   * Mounts an overlay of read-only `layers` (first = topmost) and a fresh writable upper directory over the home,
   * which reaches the running sandbox by mount propagation. Returns the upper directory: after the sandbox has
   * ended, it holds exactly what the code changed (new and modified files, whiteouts for deletions), and nothing
   * else can change it any more. The overlay's options, which the sandbox sees in its mount table, name the layers
   * by symbolic links beside the home (`l0`, `l1`, ...) relative to that directory: no host path. The layers may come
   * as a promise: the upper directory's file system is made while it settles, and with `expected` (layers the caller
   * expects them to be, already on this node) the overlay is mounted on those meanwhile, and mounted again on the
   * layers that come if they differ. Only for a sandbox whose mounts already follow this home's by propagation: one
   * that is still being set up may copy the first overlay into its own mount namespace, where the second never
   * reaches. Either way the overlay is on `layers` once this returns.
   */
  async attachLayers(layers: readonly string[] | Promise<readonly string[]>, expected?: readonly string[]): Promise<string> {
    const upperRoot = join(this.#directory, 'upper');
    const lowerLayers = Promise.resolve(layers);
    lowerLayers.catch(() => undefined); // awaited once the upper directory is made
    this.#layered = true;
    // Synchronous: a few directory operations of microseconds each, on the request path of a thread call.
    mkdirSync(upperRoot, { mode: 0o700 });
    // The writable part is its own size-capped tmpfs, outside the sandbox's view; its pages are charged to the
    // sandbox's memory cgroup as the sandbox writes them.
    await this.#spawner.mount('tmpfs', upperRoot, tmpfsOptions(this.#bytes, 0o700, { uid: 0, gid: 0 }));
    this.#mounts.push(upperRoot);
    const changes = join(upperRoot, 'diff');
    const work = join(upperRoot, 'work');
    mkdirSync(changes, { mode: 0o700 });
    chownSync(changes, this.#owner.uid, this.#owner.gid);
    mkdirSync(work, { mode: 0o700 });
    if (expected !== undefined) await this.#mountOverlay(expected, changes, work);
    const actual = await lowerLayers;
    if (expected === undefined) {
      await this.#mountOverlay(actual, changes, work);
    } else if (actual.length !== expected.length || actual.some((layer, index) => layer !== expected[index])) {
      // Nothing has run in the sandbox yet, and the upper directory is still empty.
      await this.#spawner.unmount(this.path);
      this.#mounts.splice(this.#mounts.lastIndexOf(this.path), 1);
      await this.#mountOverlay(actual, changes, work);
    }
    return changes;
  }

  /** Mounts the home's overlay: `layers` below the upper directory `changes`, with its work directory `work`. */
  async #mountOverlay(layers: readonly string[], changes: string, work: string): Promise<void> {
    const lower = layers.map((layer, index) => {
      const link = join(this.#directory, `l${index}`);
      rmSync(link, { force: true });
      symlinkSync(layer, link);
      return `l${index}`;
    });
    if (lower.length === 0) {
      mkdirSync(join(this.#directory, 'upper', 'empty'), { mode: 0o700, recursive: true });
      lower.push('upper/empty');
    }
    // Relative to this home's directory, where the spawner mounts from.
    const options = `lowerdir=${lower.join(':')},upperdir=${relative(this.#directory, changes)},workdir=${relative(this.#directory, work)}`;
    await this.#spawner.mount('overlay', this.path, `${options},${OVERLAY_OPTIONS}`);
    this.#mounts.push(this.path);
  }

  /**
   * Binds each storage attachment at /data/<name> of the running sandbox, by mount propagation: the directory `path`
   * below its host `root`, resolved without following links (a sandbox may have planted some in a volume earlier),
   * read-only before it is attached when the attachment is; a missing directory of a writable one is made, owned by
   * the sandbox user.
   */
  async attachStorage(attachments: readonly StorageAttachment[]): Promise<void> {
    for (const attachment of attachments) {
      const target = join(this.dataPath, attachment.name);
      // Synchronous, like the layers' directories: microseconds on the request path.
      mkdirSync(target, { mode: 0o755 });
      await this.#spawner.bind(attachment.root, attachment.path, target, {
        readOnly: attachment.readOnly,
        ...(!attachment.readOnly && { create: this.#owner }),
      });
      this.#mounts.push(target);
    }
  }

  /**
   * Detaches every mount of this home and removes its directory; idempotent. Call once the sandbox has ended. A home
   * without layers whose mounts all came off leaves its directory for another home: all it held was on those mounts
   * (the home's and /data's tmpfs, storage bound below /data), so only its two empty mount points remain.
   */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    let detached = true;
    for (const target of this.#mounts.reverse()) {
      await this.#spawner.unmount(target).catch(() => {
        detached = false;
      });
    }
    if (detached && !this.#layered) await this.#onEmptied(this.#directory);
    else await fs.rm(this.#directory, { recursive: true, force: true });
  }
}

function tmpfsOptions(bytes: number, mode: number, owner: { uid: number; gid: number }): string {
  return `size=${bytes},mode=${mode.toString(8)},uid=${owner.uid},gid=${owner.gid}`;
}

/** Lazily unmounts every mount at or below `root`, deepest first. */
async function detachTree(root: string): Promise<void> {
  const mountPoints = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((path) => path === root || path.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
  for (const path of mountPoints) {
    await run('umount', ['--lazy', path]).catch(() => undefined);
  }
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
