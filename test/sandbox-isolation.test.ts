import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { processesOfUid } from './support/host-inspection.js';
import { SANDBOX_STARTS } from '../packages/runtime/src/index.js';

let airlock: AirlockFixture;

async function python(code: string) {
  const result = await airlock.execute({ code });
  if (result.status !== 'success') throw new Error(`sandbox code failed: ${result.stderr}`);
  return result.stdout;
}

// Every property holds whether python's interpreter starts fresh or is forked from a template (node and bash always
// start fresh).
describe.each(SANDBOX_STARTS)('isolation (%s start)', (start) => {
  beforeAll(async () => {
    airlock = await startAirlock({ start });
  });
  afterAll(async () => {
    await airlock?.close();
  });

  it('has no network interface but loopback, and nothing outside answers', async () => {
    const output = await python(`
import socket
print([name for _, name in socket.if_nameindex()])
for address in [("127.0.0.1", 9), ("10.0.0.1", 80), ("1.1.1.1", 53), ("169.254.169.254", 80)]:
    s = socket.socket(); s.settimeout(1)
    try:
        s.connect(address); print(address[0], "connected")
    except OSError as error:
        print(address[0], type(error).__name__)
try:
    socket.getaddrinfo("example.com", 80); print("dns resolved")
except OSError as error:
    print("dns", type(error).__name__)
`);
    const lines = output.trim().split('\n');
    expect(lines[0]).toBe("['lo']");
    expect(lines.slice(1, 5)).toEqual([
      '127.0.0.1 ConnectionRefusedError',
      '10.0.0.1 OSError',
      '1.1.1.1 OSError',
      '169.254.169.254 OSError',
    ]);
    expect(lines[5]).toBe('dns gaierror');
  });

  it('cannot see host files: the data directory, /etc/shadow of the host, /root', async () => {
    const output = await python(`
import os
for path in ${JSON.stringify([airlock.dataDirectory, '/root', '/etc/shadow', '/var/lib/airlock', '/work'])}:
    print(path, os.path.exists(path))
print(sorted(os.listdir("/")))
print(open("/etc/hostname").read().strip(), os.uname().nodename)
`);
    const lines = output.trim().split('\n');
    expect(lines.slice(0, 5)).toEqual([
      `${airlock.dataDirectory} False`,
      '/root True',
      '/etc/shadow True',
      '/var/lib/airlock False',
      '/work False',
    ]);
    expect(lines[6]).toBe('sandbox sandbox');
    // /root and /etc/shadow are the image's own, not the host's: unreadable for uid 1000 and empty.
    const shadow = await airlock.execute({ language: 'bash', code: 'cat /etc/shadow; ls -A /root' });
    expect(shadow.stderr).toMatch(/Permission denied/);
  });

  it('sees no host path of the data directory or the images: mount table, descriptors, processes; with and without a thread', async () => {
    // Everything a sandbox can read about its mounts and processes.
    const dump = `
import os
def read(path):
    try:
        return open(path, "rb").read().replace(b"\\0", b" ").decode("latin1")
    except OSError:
        return ""
def link(path):
    try:
        return os.readlink(path)
    except OSError:
        return ""
seen = [read("/proc/self/mountinfo"), read("/proc/self/mounts")]
for pid in [entry for entry in os.listdir("/proc") if entry.isdigit()]:
    seen += [read(f"/proc/{pid}/{item}") for item in ("cmdline", "environ", "mountinfo")]
    seen += [link(f"/proc/{pid}/{item}") for item in ("cwd", "root", "exe")]
    try:
        seen += [link(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        pass
print("\\n".join(seen))
`;
    const imagesDirectory = inject('imagesDirectory');
    const hostPaths = [
      airlock.dataDirectory,
      basename(airlock.dataDirectory),
      imagesDirectory,
      ...readdirSync(imagesDirectory).filter((name) => name.startsWith('default-')),
      fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''),
    ];
    const threadId = `host-paths-${Date.now()}`;
    const views = [
      await airlock.execute({ code: dump }),
      await airlock.execute({ code: dump, thread_id: threadId }),
      // The second call of a thread mounts the first call's layer below its home.
      await airlock.execute({ code: `open("saved.txt", "w").write("x")\n${dump}`, thread_id: threadId }),
      await airlock.execute({ code: dump, thread_id: threadId }),
    ];
    for (const view of views) {
      expect([view.status, view.stdout_truncated]).toEqual(['success', false]);
      expect(view.stdout).toMatch(/ \/ ro,[^\n]* - overlay overlay ro,lowerdir=image:empty/);
      for (const path of hostPaths) expect(view.stdout).not.toContain(path);
      // No absolute layer path, first or later in a list.
      expect(view.stdout).not.toMatch(/(lowerdir|upperdir|workdir)=([^,\s]*:)?\//);
    }
    expect(views[3]!.stdout).toMatch(/ \/home\/sandbox rw,[^\n]* - overlay overlay rw,lowerdir=l0,upperdir=upper\/diff,workdir=upper\/work/);
  });

  it('the root file system is read-only, only the zones are writable', async () => {
    const result = await airlock.execute({
      language: 'bash',
      code: 'for p in / /usr/bin /etc /home/sandbox /tmp /dev/shm /run/airlock; do touch $p/probe 2>/dev/null && echo "$p rw" || echo "$p ro"; done',
    });
    expect(result.stdout).toBe('/ ro\n/usr/bin ro\n/etc ro\n/home/sandbox rw\n/tmp rw\n/dev/shm rw\n/run/airlock rw\n');
  });

  it('runs with seccomp in filter mode, no_new_privs and no capabilities', async () => {
    const output = await python(`
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
for key in ["Seccomp", "NoNewPrivs", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]:
    print(key, status[key].strip())
`);
    expect(output).toBe(
      'Seccomp 2\nNoNewPrivs 1\nCapInh 0000000000000000\nCapPrm 0000000000000000\nCapEff 0000000000000000\n' +
        'CapBnd 0000000000000000\nCapAmb 0000000000000000\n',
    );
  });

  it('denies dangerous system calls with EPERM (errno oracle through the API)', async () => {
    // Each call gets arguments that an allowed call would reject with another errno (EBADF, EFAULT, EINVAL, ...).
    const output = await python(`
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(number, *args):
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    return "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()]
SYSCALLS = {"ptrace": (101, 16, 1), "mount": (165, 0, 0, 0, 0, 0), "umount2": (166, 0, 0), "unshare": (272, 0x10000000),
            "setns": (308, -1, 0), "keyctl": (250, 0, 0), "add_key": (248, 0, 0, 0, 0, 0), "bpf": (321, 0, 0, 0),
            "io_uring_setup": (425, 1, 0), "perf_event_open": (298, 0, 0, -1, -1, 0), "userfaultfd": (323, 0),
            "process_vm_readv": (310, 1, 0, 1, 0, 1, 0), "chroot": (161, 0), "pivot_root": (155, 0, 0),
            "init_module": (175, 0, 0, 0), "kexec_load": (246, 0, 0, 0, 0), "clone3": (435, 0, 0),
            "read (allowed)": (0, -1, 0, 0), "openat (allowed)": (257, -100, 0, 0)}
for name, (number, *args) in SYSCALLS.items():
    print(name, call(number, *args))
TIOCSTI = 0x5412
print("ioctl TIOCSTI", call(16, 0, TIOCSTI, 0))
print("ioctl TIOCSTI high bits", call(16, 0, 0x100000000 | TIOCSTI, 0))
`);
    const results = Object.fromEntries(
      output.trim().split('\n').map((line) => [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)]),
    );
    for (const name of ['ptrace', 'mount', 'umount2', 'unshare', 'setns', 'keyctl', 'add_key', 'bpf', 'io_uring_setup',
      'perf_event_open', 'userfaultfd', 'process_vm_readv', 'chroot', 'pivot_root', 'init_module', 'kexec_load',
      'ioctl TIOCSTI', 'ioctl TIOCSTI high bits']) {
      expect([name, results[name]]).toEqual([name, 'EPERM']);
    }
    expect(results.clone3).toBe('ENOSYS');
    expect(results['read (allowed)']).toBe('EBADF');
    expect(results['openat (allowed)']).toBe('EFAULT');
  });

  it('cannot create user namespaces or escalate through setuid', async () => {
    const result = await airlock.execute({
      language: 'bash',
      code: 'unshare -Ur id 2>&1; echo "unshare exit $?"; su -c id root </dev/null 2>&1; id -u',
    });
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/unshare failed: Operation not permitted/);
    expect(lines[1]).toMatch(/^unshare exit [1-9]/);
    expect(lines.at(-1)).toBe('1000');
    expect(result.stdout).not.toMatch(/uid=0/);
  });

  it('concurrent executions cannot see each other\'s /tmp or processes', async () => {
    const marker = `concurrent-${Date.now()}`;
    const holder = airlock.execute({
      language: 'bash',
      code: `echo secret > /tmp/${marker}; sleep 3 & echo holding; wait`,
    });
    // Observe only once the holder's sleep runs, i.e. its file exists.
    const deadline = Date.now() + 10_000;
    while (!processesOfUid(airlock.sandboxUid).some((line) => line.includes(' sleep ')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const observer = await airlock.execute({
      language: 'bash',
      code: `ls /tmp; ls /proc | grep -E '^[0-9]+$' | while read p; do cat /proc/$p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done`,
    });
    expect(observer.stdout).not.toContain(marker);
    expect(observer.stdout).not.toContain('sleep 3');
    expect((await holder).stdout).toBe('holding\n');
  });
});
