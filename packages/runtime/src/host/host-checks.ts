/**
 * What Airlock needs of its host, judged from probed facts (host-probes.ts). Pure: every message can be tested by
 * handing it facts.
 */

export type HostCheckStatus = 'ok' | 'warn' | 'fail';

export interface HostCheck {
  name: string;
  status: HostCheckStatus;
  /** What was found; for a failure, what is wrong and what to do about it. */
  detail: string;
}

/** A probe's result: what it found, or why it could not. */
export type Probe<T> = { ok: true; value: T } | { ok: false; error: string };

export type NamespaceKind = 'user' | 'pid' | 'network' | 'mount';
export const NAMESPACE_KINDS: readonly NamespaceKind[] = ['user', 'pid', 'network', 'mount'];

export interface HostFacts {
  nodeVersion: string;
  effectiveUid: number;
  /** CapEff of this process. */
  effectiveCapabilities: bigint;
  bubblewrap: { path: string; version: Probe<string> };
  /** The spawner and the seccomp program, built by `npm run build:native`: a missing file's path each. */
  missingNativeHelpers: string[];
  /** Each namespace kind, created as the sandbox user. */
  namespaces: Record<NamespaceKind, Probe<void>>;
  /** `user.max_user_namespaces`, when readable. */
  maxUserNamespaces: number | null;
  seccomp: { kernel: boolean; actions: string[]; program: Probe<number> };
  overlay: Probe<void>;
  cgroups: Probe<{ version: 1 | 2; detail: string }>;
  fuse: Probe<void>;
  /** The rclone storage mounts run (AIRLOCK_RCLONE) and the version it prints. */
  rclone: { path: string; version: Probe<string> };
  /** The commands sandboxes with network need (NETWORK_COMMANDS) that are not installed. */
  missingNetworkCommands: string[];
  disk: { path: string; freeBytes: Probe<number> };
  image: { name: string; built: { version: string; sizeBytes: number } | null; builder: string | null };
  /** The first directory on the data directory's path the sandbox user cannot traverse, with its mode. */
  unreachableDirectory: { path: string; mode: number } | null;
  sandboxUid: number;
}

export const MINIMUM_NODE = [20, 11] as const;
/** `--disable-userns` and `--size` need bubblewrap 0.8. */
export const MINIMUM_BUBBLEWRAP = [0, 8, 0] as const;
/** The VFS upload queue's remote control (vfs/queue), which storage mounts drain before answering, came in 1.68. */
export const MINIMUM_RCLONE = [1, 68] as const;
export const DISK_FAIL_BYTES = 1024 ** 3;
export const DISK_WARN_BYTES = 4 * 1024 ** 3;

/** Capabilities the server uses: mounts, dropping to the sandbox uid, chown of homes, reading any file it made. */
const NEEDED_CAPABILITIES: ReadonlyArray<[string, number]> = [
  ['CAP_CHOWN', 0],
  ['CAP_DAC_OVERRIDE', 1],
  ['CAP_FOWNER', 3],
  ['CAP_KILL', 5],
  ['CAP_SETGID', 6],
  ['CAP_SETUID', 7],
  ['CAP_SYS_ADMIN', 21],
];

const NAMESPACE_FIXES: Record<NamespaceKind, string> = {
  user:
    'allow unprivileged user namespaces: sysctl -w user.max_user_namespaces=15000 ' +
    '(on Ubuntu 23.10 and later also kernel.apparmor_restrict_unprivileged_userns=0); in a container, run it with ' +
    'seccomp and AppArmor profiles that allow unshare',
  pid:
    'the kernel refused a PID namespace inside a user namespace, or the mount of its /proc; check the container ' +
    'runtime\'s seccomp profile, and in Kubernetes give the pod its own user namespace (hostUsers: false) with an ' +
    'unmasked /proc (procMount: Unmasked): a masked /proc cannot be mounted again',
  network: 'the kernel refused a network namespace inside a user namespace; check the container runtime\'s seccomp profile',
  mount: 'the kernel refused a mount namespace inside a user namespace; check the container runtime\'s seccomp profile',
};

/** One check per requirement, in the order a person fixes them. */
export function evaluateHost(facts: HostFacts): HostCheck[] {
  return [
    checkNode(facts.nodeVersion),
    checkPrivileges(facts.effectiveUid, facts.effectiveCapabilities),
    checkBubblewrap(facts.bubblewrap),
    checkNativeHelpers(facts.missingNativeHelpers),
    ...NAMESPACE_KINDS.map((kind) => checkNamespace(kind, facts.namespaces[kind], facts.maxUserNamespaces)),
    checkSeccomp(facts.seccomp),
    checkOverlay(facts.overlay),
    checkCgroups(facts.cgroups),
    checkFuse(facts.fuse),
    checkRclone(facts.rclone),
    checkNetworkCommands(facts.missingNetworkCommands),
    checkDisk(facts.disk),
    checkImage(facts.image),
    checkDataDirectory(facts.unreachableDirectory, facts.sandboxUid),
  ];
}

/** True when nothing failed: Airlock can run here (warnings allowed). */
export function hostCanRun(checks: HostCheck[]): boolean {
  return checks.every((check) => check.status !== 'fail');
}

/** `ok    name: detail`, one line per check. */
export function formatHostCheck(check: HostCheck): string {
  return `${check.status.padEnd(5)} ${check.name}: ${check.detail}`;
}

const ok = (name: string, detail: string): HostCheck => ({ name, status: 'ok', detail });
const warn = (name: string, detail: string): HostCheck => ({ name, status: 'warn', detail });
const fail = (name: string, detail: string): HostCheck => ({ name, status: 'fail', detail });

export function checkNode(version: string): HostCheck {
  return atLeast(version, MINIMUM_NODE)
    ? ok('node', `Node.js ${version}`)
    : fail('node', `Node.js ${version} is too old; install Node.js ${MINIMUM_NODE.join('.')} or newer`);
}

export function checkPrivileges(uid: number, capabilities: bigint): HostCheck {
  const missing = NEEDED_CAPABILITIES.filter(([, bit]) => (capabilities & (1n << BigInt(bit))) === 0n).map(([name]) => name);
  if (uid === 0 && missing.length === 0) return ok('privileges', 'root with the capabilities Airlock uses');
  if (uid !== 0) return fail('privileges', `running as uid ${uid}; run Airlock as root (sudo, or a root systemd service)`);
  return fail(
    'privileges',
    `root but without ${missing.join(', ')}; run it with those capabilities (in a container: --cap-add SYS_ADMIN, or privileged)`,
  );
}

export function checkBubblewrap(bubblewrap: HostFacts['bubblewrap']): HostCheck {
  if (!bubblewrap.version.ok) {
    return fail('bubblewrap', `${bubblewrap.version.error}; install it with: apt-get install -y bubblewrap`);
  }
  const version = bubblewrap.version.value;
  if (!atLeast(version, MINIMUM_BUBBLEWRAP)) {
    return fail(
      'bubblewrap',
      `${bubblewrap.path} is version ${version}; Airlock needs ${MINIMUM_BUBBLEWRAP.join('.')} or newer (Debian 12's package or later)`,
    );
  }
  return ok('bubblewrap', `${version} (${bubblewrap.path})`);
}

export function checkNativeHelpers(missing: string[]): HostCheck {
  return missing.length === 0
    ? ok('native helpers', 'sandbox spawner, seccomp programs, namespace maker and file system addon built')
    : fail('native helpers', `${missing.join(' and ')} not built; run: npm run build:native (needs gcc and libseccomp-dev)`);
}

export function checkNamespace(kind: NamespaceKind, probe: Probe<void>, maxUserNamespaces: number | null): HostCheck {
  const name = `${kind} namespaces`;
  if (probe.ok) return ok(name, 'usable by the sandbox user');
  const limit = kind === 'user' && maxUserNamespaces === 0 ? ' (user.max_user_namespaces is 0)' : '';
  return fail(name, `cannot be created by the sandbox user: ${probe.error}${limit}; ${NAMESPACE_FIXES[kind]}`);
}

export function checkSeccomp(seccomp: HostFacts['seccomp']): HostCheck {
  if (!seccomp.kernel) return fail('seccomp', 'the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER); use a kernel with them');
  const missing = ['errno', 'kill_process', 'allow'].filter((action) => !seccomp.actions.includes(action));
  if (missing.length > 0) return fail('seccomp', `the kernel lacks the seccomp actions ${missing.join(', ')}; use a newer kernel`);
  if (!seccomp.program.ok) return fail('seccomp', `${seccomp.program.error}; run: npm run build:native`);
  return ok('seccomp', `filters available; sandbox program of ${seccomp.program.value} instructions`);
}

export function checkOverlay(overlay: Probe<void>): HostCheck {
  return overlay.ok
    ? ok('overlayfs', 'mounts over the data directory\'s file system')
    : fail(
        'overlayfs',
        `cannot mount an overlay over the data directory: ${overlay.error}; load the module (modprobe overlay) and ` +
          'keep the data directory on a local file system such as ext4 or xfs (not NFS or another overlay)',
      );
}

export function checkCgroups(cgroups: HostFacts['cgroups']): HostCheck {
  if (cgroups.ok) return ok('cgroups', `v${cgroups.value.version}: ${cgroups.value.detail}`);
  return fail('cgroups', cgroups.error);
}

export function checkFuse(fuse: Probe<void>): HostCheck {
  return fuse.ok
    ? ok('/dev/fuse', 'present (storage mounts)')
    : warn(
        '/dev/fuse',
        `${fuse.error}: storage mounts of S3, GCS and Azure buckets will not work; load the module (modprobe fuse) ` +
          'or pass /dev/fuse into the container',
      );
}

export function checkRclone(rclone: HostFacts['rclone']): HostCheck {
  const fix = `run: bash scripts/setup.sh (a pinned rclone), or set AIRLOCK_RCLONE to rclone ${MINIMUM_RCLONE.join('.')} or newer`;
  if (!rclone.version.ok) return warn('rclone', `${rclone.version.error}: storage mounts of S3, GCS and Azure buckets are unavailable; ${fix}`);
  const version = rclone.version.value;
  if (!atLeast(version, MINIMUM_RCLONE)) {
    return warn(
      'rclone',
      `${rclone.path} is version ${version}, without the upload queue's remote control: storage mounts are unavailable ` +
        `(Debian 12's package is 1.60); ${fix}`,
    );
  }
  return ok('rclone', `${version} (${rclone.path}; storage mounts)`);
}

/** The commands that wire sandboxes' networks and their Debian packages (docs/decisions/0020-sandbox-network.md). */
export const NETWORK_COMMANDS: Readonly<Record<string, string>> = { nft: 'nftables', ip: 'iproute2', tc: 'iproute2', conntrack: 'conntrack', sysctl: 'procps' };

export function checkNetworkCommands(missing: string[]): HostCheck {
  if (missing.length === 0) return ok('network', `${Object.keys(NETWORK_COMMANDS).join(', ')} present (sandboxes with network)`);
  const packages = [...new Set(missing.map((command) => NETWORK_COMMANDS[command]))];
  return warn(
    'network',
    `${missing.join(', ')} missing: sandbox configs with network will fail to start sandboxes; install them with: ` +
      `apt-get install -y ${packages.join(' ')}`,
  );
}

export function checkDisk(disk: HostFacts['disk']): HostCheck {
  if (!disk.freeBytes.ok) return fail('disk', `cannot read the free space of ${disk.path}: ${disk.freeBytes.error}`);
  const free = disk.freeBytes.value;
  const shown = `${formatBytes(free)} free in ${disk.path}`;
  if (free < DISK_FAIL_BYTES) return fail('disk', `${shown}; Airlock needs at least ${formatBytes(DISK_FAIL_BYTES)}: free some space or use another --data-dir`);
  if (free < DISK_WARN_BYTES) return warn('disk', `${shown}; below ${formatBytes(DISK_WARN_BYTES)}, threads and images may fill it`);
  return ok('disk', shown);
}

export function checkImage(image: HostFacts['image']): HostCheck {
  const name = `image ${image.name}`;
  if (image.built) return ok(name, `${image.built.version} built (${formatBytes(image.built.sizeBytes)})`);
  if (image.builder) return ok(name, `not built yet; the first start builds it with ${image.builder} (about a minute)`);
  return fail(name, 'not built, and mmdebstrap is not installed to build it; install it with: apt-get install -y mmdebstrap');
}

export function checkDataDirectory(unreachable: HostFacts['unreachableDirectory'], sandboxUid: number): HostCheck {
  if (sandboxUid === 0) return fail('sandbox user', 'AIRLOCK_SANDBOX_UID is 0; sandboxes must run as an unprivileged uid');
  if (unreachable) {
    return fail(
      'sandbox user',
      `uid ${sandboxUid} cannot traverse ${unreachable.path} (mode ${unreachable.mode.toString(8)}); use a data directory ` +
        `outside private directories such as /root, or run: chmod o+x ${unreachable.path}`,
    );
  }
  return ok('sandbox user', `uid ${sandboxUid} reaches the images and homes`);
}

/** `version` (leading digits of each dot-separated part) is at least `minimum`. */
function atLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.replace(/^v/, '').split('.').map((part) => parseInt(part, 10));
  for (let index = 0; index < minimum.length; index++) {
    const part = Number.isNaN(parts[index]) ? 0 : (parts[index] ?? 0);
    if (part !== minimum[index]) return part > minimum[index]!;
  }
  return true;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}
