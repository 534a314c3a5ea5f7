import { describe, expect, it } from 'vitest';
import { evaluateHost, formatHostCheck, hostCanRun, type HostFacts } from './host-checks.js';

const ALL_CAPABILITIES = (1n << 41n) - 1n;

function healthyFacts(): HostFacts {
  const usable = { ok: true, value: undefined } as const;
  return {
    nodeVersion: '20.11.0',
    effectiveUid: 0,
    effectiveCapabilities: ALL_CAPABILITIES,
    bubblewrap: { path: '/usr/bin/bwrap', version: { ok: true, value: '0.8.0' } },
    missingNativeHelpers: [],
    namespaces: { user: usable, pid: usable, network: usable, mount: usable },
    maxUserNamespaces: 15000,
    seccomp: { kernel: true, actions: ['kill_process', 'kill_thread', 'trap', 'errno', 'user_notif', 'trace', 'log', 'allow'], program: { ok: true, value: 511 } },
    overlay: usable,
    cgroups: { ok: true, value: { version: 2, detail: 'cpu, memory and pids delegated to /sys/fs/cgroup/airlock' } },
    fuse: usable,
    rclone: { path: '/usr/local/lib/airlock/rclone-1.75.2/rclone', version: { ok: true, value: '1.75.2' } },
    missingNetworkCommands: [],
    disk: { path: '/var/lib/airlock', freeBytes: { ok: true, value: 50 * 1024 ** 3 } },
    image: { name: 'default', built: { version: '8a16f3dbe089', sizeBytes: 412 * 1024 ** 2 }, builder: 'mmdebstrap 1.3.5' },
    unreachableDirectory: null,
    sandboxUid: 61000,
  };
}

/** The one line a single changed fact produces, and whether the host can still run. */
function judge(change: (facts: HostFacts) => void): { lines: string[]; canRun: boolean } {
  const facts = healthyFacts();
  change(facts);
  const checks = evaluateHost(facts);
  return { lines: checks.filter((check) => check.status !== 'ok').map(formatHostCheck), canRun: hostCanRun(checks) };
}

describe('host checks', () => {
  it('a healthy host passes every check, one line each', () => {
    const checks = evaluateHost(healthyFacts());
    expect(checks.map((check) => check.status)).toEqual(Array(checks.length).fill('ok'));
    expect(checks.map(formatHostCheck)).toContain('ok    bubblewrap: 0.8.0 (/usr/bin/bwrap)');
    expect(checks.map((check) => check.name)).toEqual([
      'node',
      'privileges',
      'bubblewrap',
      'native helpers',
      'user namespaces',
      'pid namespaces',
      'network namespaces',
      'mount namespaces',
      'seccomp',
      'overlayfs',
      'cgroups',
      '/dev/fuse',
      'rclone',
      'network',
      'disk',
      'image default',
      'sandbox user',
    ]);
  });

  it('node older than 20.11', () => {
    expect(judge((facts) => (facts.nodeVersion = '20.10.0'))).toEqual({
      lines: ['fail  node: Node.js 20.10.0 is too old; install Node.js 20.11 or newer'],
      canRun: false,
    });
    expect(judge((facts) => (facts.nodeVersion = '22.0.0')).canRun).toBe(true);
  });

  it('not root, or root without capabilities', () => {
    expect(judge((facts) => (facts.effectiveUid = 1000)).lines).toEqual([
      'fail  privileges: running as uid 1000; run Airlock as root (sudo, or a root systemd service)',
    ]);
    expect(judge((facts) => (facts.effectiveCapabilities = ALL_CAPABILITIES & ~(1n << 21n))).lines).toEqual([
      'fail  privileges: root but without CAP_SYS_ADMIN; run it with those capabilities (in a container: --cap-add SYS_ADMIN, or privileged)',
    ]);
  });

  it('bubblewrap missing, broken or too old', () => {
    expect(judge((facts) => (facts.bubblewrap.version = { ok: false, error: 'not found at /usr/bin/bwrap' })).lines).toEqual([
      'fail  bubblewrap: not found at /usr/bin/bwrap; install it with: apt-get install -y bubblewrap',
    ]);
    expect(judge((facts) => (facts.bubblewrap.version = { ok: true, value: '0.7.0' })).lines).toEqual([
      'fail  bubblewrap: /usr/bin/bwrap is version 0.7.0; Airlock needs 0.8.0 or newer (Debian 12\'s package or later)',
    ]);
    expect(judge((facts) => (facts.bubblewrap.version = { ok: true, value: '0.11.0' })).canRun).toBe(true);
  });

  it('native helpers not built', () => {
    expect(judge((facts) => (facts.missingNativeHelpers = ['/x/airlock-spawner'])).lines).toEqual([
      'fail  native helpers: /x/airlock-spawner not built; run: npm run build:native (needs gcc and libseccomp-dev)',
    ]);
  });

  it('each namespace kind refused, with the sysctl named when user namespaces are off', () => {
    const user = judge((facts) => {
      facts.namespaces.user = { ok: false, error: 'unshare failed: No space left on device' };
      facts.maxUserNamespaces = 0;
    });
    expect(user.canRun).toBe(false);
    expect(user.lines[0]).toMatch(
      /^fail {2}user namespaces: cannot be created by the sandbox user: unshare failed: No space left on device \(user\.max_user_namespaces is 0\); allow unprivileged user namespaces: sysctl -w user\.max_user_namespaces=15000/,
    );
    for (const kind of ['network', 'mount'] as const) {
      const refused = judge((facts) => (facts.namespaces[kind] = { ok: false, error: 'unshare failed: Operation not permitted' }));
      expect(refused.lines).toEqual([
        `fail  ${kind} namespaces: cannot be created by the sandbox user: unshare failed: Operation not permitted; ` +
          `the kernel refused a ${kind} namespace inside a user namespace; check the container runtime's seccomp profile`,
      ]);
    }
    // A masked /proc (Kubernetes without a user namespace for the pod) refuses the mount of the namespace's /proc.
    const masked = judge((facts) => (facts.namespaces.pid = { ok: false, error: 'unshare: mount /proc failed: Operation not permitted' }));
    expect(masked.lines).toEqual([
      'fail  pid namespaces: cannot be created by the sandbox user: unshare: mount /proc failed: Operation not permitted; ' +
        'the kernel refused a PID namespace inside a user namespace, or the mount of its /proc; check the container ' +
        "runtime's seccomp profile, and in Kubernetes give the pod its own user namespace (hostUsers: false) with an " +
        'unmasked /proc (procMount: Unmasked): a masked /proc cannot be mounted again',
    ]);
  });

  it('seccomp absent, lacking actions, or the program unreadable', () => {
    expect(judge((facts) => (facts.seccomp.kernel = false)).lines).toEqual([
      'fail  seccomp: the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER); use a kernel with them',
    ]);
    expect(judge((facts) => (facts.seccomp.actions = ['kill_thread', 'errno', 'allow'])).lines).toEqual([
      'fail  seccomp: the kernel lacks the seccomp actions kill_process; use a newer kernel',
    ]);
    expect(judge((facts) => (facts.seccomp.program = { ok: false, error: 'seccomp program not found at /x/seccomp.bpf' })).lines).toEqual([
      'fail  seccomp: seccomp program not found at /x/seccomp.bpf; run: npm run build:native',
    ]);
  });

  it('overlayfs refused', () => {
    expect(judge((facts) => (facts.overlay = { ok: false, error: 'mount: unknown filesystem type \'overlay\'.' })).lines).toEqual([
      'fail  overlayfs: cannot mount an overlay over the data directory: mount: unknown filesystem type \'overlay\'.; ' +
        'load the module (modprobe overlay) and keep the data directory on a local file system such as ext4 or xfs (not NFS or another overlay)',
    ]);
  });

  it('cgroups not usable', () => {
    const error = 'the memory controller is not delegated to /sys/fs/cgroup/user.slice; run Airlock as a systemd service with Delegate=yes';
    expect(judge((facts) => (facts.cgroups = { ok: false, error }))).toEqual({ lines: [`fail  cgroups: ${error}`], canRun: false });
  });

  it('missing network commands are a warning naming the packages: only sandboxes with network need them', () => {
    expect(judge((facts) => (facts.missingNetworkCommands = ['nft', 'conntrack']))).toEqual({
      lines: [
        'warn  network: nft, conntrack missing: sandbox configs with network will fail to start sandboxes; install them ' +
          'with: apt-get install -y nftables conntrack',
      ],
      canRun: true,
    });
  });

  it('/dev/fuse missing is a warning: Airlock still runs', () => {
    expect(judge((facts) => (facts.fuse = { ok: false, error: '/dev/fuse is missing' }))).toEqual({
      lines: [
        'warn  /dev/fuse: /dev/fuse is missing: storage mounts of S3, GCS and Azure buckets will not work; ' +
          'load the module (modprobe fuse) or pass /dev/fuse into the container',
      ],
      canRun: true,
    });
  });

  it('rclone missing or older than 1.68 is a warning: Airlock runs without storage mounts', () => {
    const path = '/usr/local/lib/airlock/rclone-1.75.2/rclone';
    expect(judge((facts) => (facts.rclone.version = { ok: false, error: `not found at ${path}` }))).toEqual({
      lines: [
        `warn  rclone: not found at ${path}: storage mounts of S3, GCS and Azure buckets are unavailable; ` +
          'run: bash scripts/setup.sh (a pinned rclone), or set AIRLOCK_RCLONE to rclone 1.68 or newer',
      ],
      canRun: true,
    });
    expect(judge((facts) => (facts.rclone = { path: '/usr/bin/rclone', version: { ok: true, value: '1.60.1' } }))).toEqual({
      lines: [
        'warn  rclone: /usr/bin/rclone is version 1.60.1, without the upload queue\'s remote control: storage mounts are ' +
          'unavailable (Debian 12\'s package is 1.60); run: bash scripts/setup.sh (a pinned rclone), or set AIRLOCK_RCLONE ' +
          'to rclone 1.68 or newer',
      ],
      canRun: true,
    });
    const newest = evaluateHost({ ...healthyFacts(), rclone: { path: '/usr/bin/rclone', version: { ok: true, value: '1.68.0' } } });
    expect(newest.map(formatHostCheck)).toContain('ok    rclone: 1.68.0 (/usr/bin/rclone; storage mounts)');
  });

  it('disk: a warning below 4 GiB, a failure below 1 GiB', () => {
    expect(judge((facts) => (facts.disk.freeBytes = { ok: true, value: 2 * 1024 ** 3 }))).toEqual({
      lines: ['warn  disk: 2.0 GiB free in /var/lib/airlock; below 4.0 GiB, threads and images may fill it'],
      canRun: true,
    });
    expect(judge((facts) => (facts.disk.freeBytes = { ok: true, value: 300 * 1024 ** 2 }))).toEqual({
      lines: ['fail  disk: 300 MiB free in /var/lib/airlock; Airlock needs at least 1.0 GiB: free some space or use another --data-dir'],
      canRun: false,
    });
  });

  it('image not built: fine with mmdebstrap, a failure without', () => {
    expect(judge((facts) => (facts.image.built = null))).toEqual({ lines: [], canRun: true });
    expect(judge((facts) => ((facts.image.built = null), (facts.image.builder = null))).lines).toEqual([
      'fail  image default: not built, and mmdebstrap is not installed to build it; install it with: apt-get install -y mmdebstrap',
    ]);
    expect(judge((facts) => (facts.image.builder = null)).canRun).toBe(true);
  });

  it('the sandbox user: uid 0, or a directory it cannot traverse', () => {
    expect(judge((facts) => (facts.sandboxUid = 0)).lines).toEqual([
      'fail  sandbox user: AIRLOCK_SANDBOX_UID is 0; sandboxes must run as an unprivileged uid',
    ]);
    expect(judge((facts) => (facts.unreachableDirectory = { path: '/root', mode: 0o700 })).lines).toEqual([
      'fail  sandbox user: uid 61000 cannot traverse /root (mode 700); use a data directory outside private directories ' +
        'such as /root, or run: chmod o+x /root',
    ]);
  });
});
