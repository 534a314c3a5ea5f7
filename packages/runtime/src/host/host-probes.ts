import { execFile } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { detectCgroupHierarchy, parseCgroupMounts, parseProcessCgroups, pathBelowMount } from '../cgroups/detect-cgroups.js';
import { V1_CONTROLLERS } from '../cgroups/cgroup-v1.js';
import { ImageStore } from '../image/image-store.js';
import { forkNamespacesPath, loadSeccompProgram, seccompProgramPath, spawnerPath, templateSeccompProgramPath } from '../seccomp.js';
import { fsExtrasPath } from '../home/fs-extras.js';
import { NAMESPACE_KINDS, NETWORK_COMMANDS, evaluateHost, type HostCheck, type HostFacts, type NamespaceKind, type Probe } from './host-checks.js';

const run = promisify(execFile);

export interface HostProbeOptions {
  dataDirectory: string;
  imagesDirectory: string;
  bwrapPath: string;
  /** The rclone storage mounts run. */
  rclonePath: string;
  sandboxUid: number;
  sandboxGid: number;
  /** The image the server loads first. */
  imageName?: string;
}

/** Probes the host and judges it: one check per requirement (host-checks.ts). */
export async function diagnoseHost(options: HostProbeOptions): Promise<HostCheck[]> {
  return evaluateHost(await probeHost(options));
}

/**
 * Gathers what the checks judge, by trying each thing the way the runtime does it. Creates the data directory if
 * it is missing (as the server would) and leaves nothing else behind.
 */
export async function probeHost(options: HostProbeOptions): Promise<HostFacts> {
  const runAs = process.getuid?.() === 0 ? { uid: options.sandboxUid, gid: options.sandboxGid } : {};
  const namespaces = {} as Record<NamespaceKind, Probe<void>>;
  for (const kind of NAMESPACE_KINDS) namespaces[kind] = await probeNamespace(kind, runAs);
  const dataDirectoryReady = await attempt(async () => {
    await fs.mkdir(options.dataDirectory, { recursive: true, mode: 0o711 });
  });
  return {
    nodeVersion: process.versions.node,
    effectiveUid: process.geteuid?.() ?? -1,
    effectiveCapabilities: await effectiveCapabilities(),
    bubblewrap: { path: options.bwrapPath, version: await probeVersion(options.bwrapPath) },
    missingNativeHelpers: await missingFiles([spawnerPath(), seccompProgramPath(), templateSeccompProgramPath(), forkNamespacesPath(), fsExtrasPath()]),
    namespaces,
    maxUserNamespaces: await readNumber('/proc/sys/user/max_user_namespaces'),
    seccomp: await probeSeccomp(),
    overlay: dataDirectoryReady.ok ? await probeOverlay(options.dataDirectory) : dataDirectoryReady,
    cgroups: await probeCgroups(),
    fuse: await attempt(async () => {
      const stat = await fs.stat('/dev/fuse').catch(() => null);
      if (!stat?.isCharacterDevice()) throw new Error('/dev/fuse is missing');
      await fs.access('/dev/fuse', constants.R_OK | constants.W_OK);
    }),
    rclone: { path: options.rclonePath, version: await probeVersion(options.rclonePath) },
    missingNetworkCommands: await missingCommands(Object.keys(NETWORK_COMMANDS)),
    disk: { path: options.dataDirectory, freeBytes: await probeFreeBytes(options.dataDirectory) },
    image: await probeImage(options.imagesDirectory, options.imageName ?? 'default'),
    unreachableDirectory: await firstUntraversable([options.dataDirectory, options.imagesDirectory]),
    sandboxUid: options.sandboxUid,
  };
}

async function attempt<T>(probe: () => Promise<T>): Promise<Probe<T>> {
  try {
    return { ok: true, value: await probe() };
  } catch (error) {
    return { ok: false, error: errorText(error) };
  }
}

/** The last line a failed command printed, or its error's message. */
function errorText(error: unknown): string {
  const failure = error as { stderr?: string; message?: string; code?: string };
  const stderr = failure.stderr?.trim().split('\n').at(-1);
  if (stderr) return stderr;
  if (failure.code === 'ENOENT') return 'not found';
  return failure.message ?? String(error);
}

async function effectiveCapabilities(): Promise<bigint> {
  const status = await fs.readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex ? BigInt(`0x${hex}`) : 0n;
}

/** The first version number `<path> --version` prints (bubblewrap's `bubblewrap 0.8.0`, rclone's `rclone v1.75.2`). */
async function probeVersion(path: string): Promise<Probe<string>> {
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 10_000 });
    const version = /(\d+\.\d+(\.\d+)?)/.exec(stdout)?.[1];
    return version ? { ok: true, value: version } : { ok: false, error: `${path} --version printed no version` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, error: `not found at ${path}` };
    if (code === 'EACCES') return { ok: false, error: `${path} is not executable` };
    return { ok: false, error: `${path} --version failed: ${errorText(error)}` };
  }
}

/** The commands found in none of the system's command directories, where Debian's packages install them. */
async function missingCommands(commands: string[]): Promise<string[]> {
  const directories = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const missing: string[] = [];
  for (const command of commands) {
    const found = await Promise.all(directories.map((directory) => fs.access(join(directory, command), constants.X_OK).then(() => true, () => false)));
    if (!found.includes(true)) missing.push(command);
  }
  return missing;
}

async function missingFiles(paths: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const path of paths) {
    try {
      await fs.access(path, constants.R_OK);
    } catch {
      missing.push(path);
    }
  }
  return missing;
}

const UNSHARE_ARGUMENTS: Record<NamespaceKind, string[]> = {
  user: ['--user'],
  // With the /proc of the new PID namespace mounted, as bubblewrap mounts it: a container runtime that masks parts of
  // its /proc (Kubernetes without a user namespace for the pod) lets the namespace be made but not this mount.
  pid: ['--user', '--map-root-user', '--pid', '--fork', '--mount', '--mount-proc'],
  network: ['--user', '--map-root-user', '--net'],
  mount: ['--user', '--map-root-user', '--mount'],
};

/** unshare(1) as the sandbox user, the way bubblewrap creates the sandbox's namespaces. */
function probeNamespace(kind: NamespaceKind, runAs: { uid?: number; gid?: number }): Promise<Probe<void>> {
  return attempt(async () => {
    await run('unshare', [...UNSHARE_ARGUMENTS[kind], 'true'], { ...runAs, cwd: '/', env: {}, timeout: 10_000 });
  });
}

async function readNumber(path: string): Promise<number | null> {
  const text = await fs.readFile(path, 'utf8').catch(() => null);
  return text === null || text.trim() === '' ? null : Number(text.trim());
}

async function probeSeccomp(): Promise<HostFacts['seccomp']> {
  const status = await fs.readFile('/proc/self/status', 'utf8').catch(() => '');
  const actions = await fs.readFile('/proc/sys/kernel/seccomp/actions_avail', 'utf8').catch(() => '');
  return {
    kernel: /^Seccomp:/m.test(status) && actions !== '',
    actions: actions.trim().split(/\s+/),
    program: await attempt(async () => loadSeccompProgram().length / 8),
  };
}

/** An overlay as a thread's home is mounted: read-only layers in the data directory, the writable part on a tmpfs. */
async function probeOverlay(dataDirectory: string): Promise<Probe<void>> {
  let scratch: string | undefined;
  const mounted: string[] = [];
  try {
    scratch = await fs.mkdtemp(join(dataDirectory, '.host-check-'));
    const [lower, upper, merged] = ['lower', 'upper', 'merged'].map((name) => join(scratch!, name)) as [string, string, string];
    for (const directory of [lower, upper, merged]) await fs.mkdir(directory);
    await fs.writeFile(join(lower, 'layer-file'), 'lower\n');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', upper]);
    mounted.push(upper);
    await fs.mkdir(join(upper, 'diff'));
    await fs.mkdir(join(upper, 'work'));
    const data = `lowerdir=${lower},upperdir=${join(upper, 'diff')},workdir=${join(upper, 'work')}`;
    await run('mount', ['-t', 'overlay', '-o', data, 'overlay', merged]);
    mounted.push(merged);
    await fs.writeFile(join(merged, 'layer-file'), 'changed\n');
    return { ok: true, value: undefined };
  } catch (error) {
    return { ok: false, error: errorText(error) };
  } finally {
    for (const target of mounted.reverse()) await run('umount', ['--lazy', target]).catch(() => undefined);
    if (scratch) await fs.rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * cgroup v1: a probe cgroup of its own with every limit the sandboxes get, then removed. cgroup v2: the controllers
 * available in this process's cgroup and a child cgroup made and removed there (the server enables the controllers
 * for its own subtree when it starts; the check changes nothing for the processes already in the cgroup).
 */
async function probeCgroups(): Promise<HostFacts['cgroups']> {
  const probed = await attempt(() => probeCgroupHierarchy());
  if (probed.ok) return probed;
  // A hierarchy mounted read-only refuses every cgroup with a misleading errno (ENOENT on v1): name the cause.
  const readOnly = parseCgroupMounts(await fs.readFile('/proc/self/mountinfo', 'utf8')).filter(
    (mount) => mount.readOnly && (mount.fsType === 'cgroup2' || V1_CONTROLLERS.some((controller) => mount.controllers.includes(controller))),
  );
  if (readOnly.length === 0) return probed;
  return {
    ok: false,
    error:
      `the cgroup file system is mounted read-only (${readOnly.map((mount) => mount.mountPoint).join(', ')}), so no sandbox can get its ` +
      'cgroup; run the container privileged, or give it a writable cgroup (deploy/helm/airlock/README.md, "A writable cgroup")',
  };
}

async function probeCgroupHierarchy(): Promise<{ version: 1 | 2; detail: string }> {
  const hierarchy = await detectCgroupHierarchy({ name: `airlock-host-check-${process.pid}` });
  if (hierarchy.version === 1) {
    await hierarchy.initialize();
    try {
      const slot = await hierarchy.createSlot('probe');
      await slot.prepare({ cpus: 1, memoryBytes: 64 * 1024 ** 2, pids: 16 });
    } finally {
      await hierarchy.destroy();
    }
    return { version: 1 as const, detail: 'cpu, cpuacct, memory, pids and freezer usable' };
  }
  const mounts = parseCgroupMounts(await fs.readFile('/proc/self/mountinfo', 'utf8'));
  const unified = mounts.find((mount) => mount.fsType === 'cgroup2')!;
  const own = join(unified.mountPoint, pathBelowMount(parseProcessCgroups(await fs.readFile('/proc/self/cgroup', 'utf8')).get('') ?? '/', unified.root));
  const available = (await fs.readFile(join(own, 'cgroup.controllers'), 'utf8')).trim().split(/\s+/);
  const missing = ['cpu', 'memory', 'pids'].filter((controller) => !available.includes(controller));
  if (missing.length > 0) {
    throw new Error(
      `the ${missing.join(', ')} controller${missing.length > 1 ? 's are' : ' is'} not delegated to ${own}; ` +
        'run Airlock as a systemd service with Delegate=yes, or in a container with its own cgroup namespace',
    );
  }
  const probe = join(own, `airlock-host-check-${process.pid}`);
  try {
    await fs.mkdir(probe);
  } catch (error) {
    throw new Error(`cannot create cgroups below ${own} (${errorText(error)}); the cgroup file system must be writable`);
  }
  await fs.rmdir(probe);
  return { version: 2 as const, detail: `cpu, memory and pids delegated to ${own}` };
}

async function probeFreeBytes(path: string): Promise<Probe<number>> {
  return attempt(async () => {
    const stats = await fs.statfs(await nearestExisting(path));
    return stats.bavail * stats.bsize;
  });
}

async function probeImage(imagesDirectory: string, name: string): Promise<HostFacts['image']> {
  const image = await new ImageStore({ directory: imagesDirectory }).get(name).catch(() => null);
  return {
    name,
    built: image ? { version: image.manifest.version, sizeBytes: image.manifest.sizeBytes } : null,
    builder: await imageBuilder(),
  };
}

/** `mmdebstrap <version>` when the image builder is installed. */
async function imageBuilder(): Promise<string | null> {
  try {
    const { stdout } = await run('mmdebstrap', ['--version'], { timeout: 10_000 });
    return stdout.trim().split('\n')[0] || 'mmdebstrap';
  } catch {
    return null;
  }
}

/**
 * The first existing directory above each path that others (the sandbox user) cannot traverse. The paths themselves
 * are not judged: the server makes them traversable when it starts.
 */
async function firstUntraversable(paths: string[]): Promise<{ path: string; mode: number } | null> {
  for (const path of paths) {
    for (let directory = await nearestExisting(dirname(path)); ; directory = dirname(directory)) {
      const { mode } = await fs.stat(directory);
      if ((mode & 0o001) === 0) return { path: directory, mode: mode & 0o777 };
      if (directory === dirname(directory)) break;
    }
  }
  return null;
}

async function nearestExisting(path: string): Promise<string> {
  let directory = path;
  while (!(await fs.stat(directory).then(() => true, () => false)) && directory !== dirname(directory)) {
    directory = dirname(directory);
  }
  return directory;
}
