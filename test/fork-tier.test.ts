import { readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { SandboxRuntime, type SandboxLimits, type SandboxOutcome, type SandboxStart } from '../packages/runtime/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { useTestRuntime } from './support/runtime-fixture.js';
import { cgroupSlotDirectories, noProcessesLeft, processesOfUid } from './support/host-inspection.js';
import { until } from './support/wait.js';

const limits: SandboxLimits = { cpus: 1, memoryBytes: 512 << 20, pids: 256, tmpBytes: 64 << 20, homeBytes: 64 << 20 };
const sandboxUid = testSandboxUid();
const fixture = useTestRuntime({
  prefix: 'airlock-fork-',
  sandboxUid,
  pool: { maxSlots: 0, maxSlotsPerKey: 0, maxConcurrentRefills: 1, idleMs: 60_000 },
});

/** Lines of processesOfUid that outlive an execution: the `sleep`s the code starts, and the execution's pid 1. */
const leftOfExecutions = (lines: string[]): string[] => lines.filter((line) => ['sleep', 'airlock-init'].includes(line.split(' ')[1] ?? ''));

async function run(start: SandboxStart, code: string, options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<SandboxOutcome> {
  const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'python', limits, start });
  return sandbox.run({ code, env: options.env ?? {}, timeoutMs: options.timeoutMs ?? 10_000 });
}

const PROGRAMS: Array<[string, string]> = [
  ['argv and __name__', 'import sys; print(sys.argv, __name__, "__file__" in dir(), sorted(k for k in globals() if not k.startswith("__")))'],
  ['sys.exit with a code', 'import sys; print("x"); sys.exit(3)'],
  ['sys.exit with a message', 'import sys; sys.exit("bad thing")'],
  ['uncaught exception', 'def f():\n    1 / 0\nf()'],
  ['syntax error', 'def f(:\n  pass'],
  ['killed by a signal', 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)'],
  ['environment and children', 'import os, subprocess; print(os.environ["GREETING"]); subprocess.run(["sh", "-c", "echo child $GREETING"])'],
  ['working directory and home', 'import os; print(os.getcwd(), os.path.expanduser("~"), os.listdir("."))'],
  ['KeyboardInterrupt', 'raise KeyboardInterrupt'],
  ['objects of __main__ finalized at exit', 'class D:\n    def __del__(self):\n        print("finalized", flush=True)\nd = D()\nimport sys; sys.stdout.write("no newline")'],
  ['atexit and buffered output', 'import atexit; atexit.register(lambda: print("bye")); print("hi", end="")'],
  ['a non-daemon thread outlives the code', 'import threading, time\ndef late():\n    time.sleep(0.2); print("thread done")\nthreading.Thread(target=late).start(); print("main done")'],
  // os.getppid() differs: 1 in a fresh sandbox, 0 in a fork (its parent, the template, is outside its pid namespace).
  ['identity', 'import os, socket; print(os.getpid(), os.getuid(), os.getgid(), os.getgroups(), socket.gethostname())'],
  ['environment', 'import os; print(sorted(os.environ))'],
  ['processes', 'import os; print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))'],
  ['descriptors', 'import os; print(sorted(os.listdir("/proc/self/fd")))'],
  ['signal dispositions', 'print([l for l in open("/proc/self/status").read().splitlines() if l.startswith(("SigIgn", "SigBlk", "Cap", "NoNewPrivs", "Seccomp:"))])'],
  ['mount points and options', 'print(sorted((l.split()[4], l.split()[5]) for l in open("/proc/self/mountinfo")))'],
  ['writable places', 'import os\nfor p in ["/", "/dev", "/run", "/run/airlock", "/tmp", "/dev/shm", "/home/sandbox", "/data", "/usr", "/proc/sys/user/max_user_namespaces"]:\n    print(p, os.access(p, os.W_OK), oct(os.stat(p).st_mode))'],
  ['cgroup namespace', 'print(open("/proc/self/cgroup").read().count("::/") > 0 or open("/proc/self/cgroup").read())'],
];

describe('a forked sandbox behaves like a fresh one', () => {
  it.each(PROGRAMS)('%s', async (_name, code) => {
    const env = { GREETING: 'hello' };
    const comparable = (outcome: SandboxOutcome) => ({ status: outcome.status, exitCode: outcome.exitCode, stdout: outcome.stdout, stderr: outcome.stderr });
    const fresh = await run('fresh', code, { env });
    const forked = await run('fork', code, { env });
    expect(comparable(forked)).toEqual(comparable(fresh));
  }, 60_000);
});

describe('fork tier', () => {
  it('has the data stack imported already, and each fork its own random state', async () => {
    const code = 'import sys, time, random\nt = time.perf_counter()\nimport pandas, numpy\nprint(round((time.perf_counter() - t) * 1000, 3), numpy.random.randint(1 << 30), random.random())';
    const first = (await run('fork', code)).stdout.trim().split(' ');
    const second = (await run('fork', code)).stdout.trim().split(' ');
    expect(Number(first[0])).toBeLessThan(5);
    expect(second[1]).not.toBe(first[1]);
    expect(second[2]).not.toBe(first[2]);
  }, 60_000);

  it("runs forks on CPython's mimalloc, which the default image's python has, and the code's own python on the default", async () => {
    // sys._debugmallocstats writes to fd 2; its first line names the allocator's small-block threshold.
    const code = [
      'import os, subprocess, sys, sysconfig',
      'print(sysconfig.get_config_var("WITH_MIMALLOC"), "PYTHONMALLOC" in os.environ)',
      'child = subprocess.run([sys.executable, "-c", "import sys; sys._debugmallocstats()"], capture_output=True, text=True)',
      'print(child.stderr.splitlines()[0])',
      'sys._debugmallocstats()',
    ].join('\n');
    const outcome = await run('fork', code);
    expect(outcome.stdout).toBe('1 False\nSmall block threshold = 512, in 32 size classes.\n');
    expect(outcome.stderr.split('\n')[0]).toBe('Small block threshold = 16384, in 73 size classes.');
  }, 60_000);

  it("takes a fork's new memory in small pages, not in huge pages each fork would zero and hold (2 MiB each)", async () => {
    // Small objects come from the template's mimalloc arena, which has huge pages where the host allows them.
    const code = [
      'def huge():',
      '    return sum(int(l.split()[1]) for l in open("/proc/self/smaps") if l.startswith("AnonHugePages:"))',
      'before = huge()',
      'objects = [[i] for i in range(300_000)]',
      'print(before, huge())',
    ].join('\n');
    const [before, after] = (await run('fork', code)).stdout.trim().split(' ').map(Number);
    expect(after).toBeLessThanOrEqual(before!);
  }, 60_000);

  it("makes the template's module names immortal, so a fork that lists them (as its stub does) writes none of their pages", async () => {
    // The default image's python (3.13) has immortal objects; None's count is the immortal value.
    const code = 'import sys\nnames = [n for n in sys.modules if not sys._is_interned(n)]\nprint(len(names), sum(sys.getrefcount(n) != sys.getrefcount(None) for n in names))';
    const [names, mortal] = (await run('fork', code)).stdout.trim().split(' ').map(Number);
    expect(names).toBeGreaterThan(100);
    expect(mortal).toBe(0);
  }, 60_000);

  it('a timeout kills the fork and everything it started; nothing is left', async () => {
    const outcome = await run('fork', 'import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(300)\ntime.sleep(300)', { timeoutMs: 1_000 });
    expect(outcome.status).toBe('timeout');
    // The template's processes (bubblewrap, the template and its namespace maker) stay; nothing of the execution does,
    // neither its processes nor its pid 1.
    const left = leftOfExecutions(await noProcessesLeft(sandboxUid, 500));
    expect(left).toEqual([]);
  }, 60_000);

  it('daemons left by code that exits are killed with its namespace', async () => {
    const outcome = await run('fork', 'import subprocess; subprocess.Popen(["setsid", "sleep", "300"]); print("left")');
    expect(outcome.stdout).toBe('left\n');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(leftOfExecutions(processesOfUid(sandboxUid))).toEqual([]);
  }, 60_000);

  it.each(['fresh', 'fork'] as const)('an exit report written by the code while it runs on is not believed (%s)', async (start) => {
    const closed = await run(start, 'import os, time\nos.write(63, b"E0\\n"); os.close(1); os.close(2)\ntime.sleep(1)\nos._exit(3)');
    expect(closed).toMatchObject({ status: 'failed', exitCode: 3 });
    const open = await run(start, 'import os, time\nos.write(63, b"E0\\n"); time.sleep(0.3); print("late"); raise SystemExit(4)');
    expect(open).toMatchObject({ status: 'failed', stdout: 'late\n', exitCode: 4 });
  }, 60_000);

  it('sees home layers mounted after the fork, and writes its changes to the upper layer', async () => {
    const layer = await mkdtemp(join(fixture.directory, 'layer-'));
    await writeFile(join(layer, 'hello.txt'), 'from an earlier call\n');
    await mkdir(join(layer, 'sub'));
    for (const path of [layer, join(layer, 'hello.txt'), join(layer, 'sub')]) await chown(path, sandboxUid, sandboxUid);
    const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'python', limits, start: 'fork' });
    await sandbox.ready;
    const changes = await sandbox.attachLayers([layer]);
    let changed: string[] = [];
    let unclosed = '';
    const outcome = await sandbox.run({
      // unclosed.txt is left open: the interpreter's exit flushes it, as a fresh interpreter's would.
      code: 'import os; print(open("hello.txt").read().strip()); open("new.txt", "w").write("x"); print(sorted(os.listdir(".")))\nunclosed = open("unclosed.txt", "w"); unclosed.write("kept")',
      env: {},
      timeoutMs: 10_000,
      afterExit: async () => {
        changed = (await readdir(changes)).sort();
        unclosed = await readFile(join(changes, 'unclosed.txt'), 'utf8');
      },
    });
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toBe("from an earlier call\n['hello.txt', 'new.txt', 'sub']\n");
    expect(changed).toEqual(['new.txt', 'unclosed.txt']);
    expect(unclosed).toBe('kept');
  }, 60_000);

  it('sees the layers that came when others were expected: the overlay is mounted again after the fork', async () => {
    const layers: string[] = [];
    for (const content of ['expected\n', 'came\n']) {
      const layer = await mkdtemp(join(fixture.directory, 'layer-'));
      await writeFile(join(layer, 'hello.txt'), content);
      for (const path of [layer, join(layer, 'hello.txt')]) await chown(path, sandboxUid, sandboxUid);
      layers.push(layer);
    }
    const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'python', limits, start: 'fork' });
    await sandbox.ready;
    await sandbox.attachLayers(new Promise((resolve) => setTimeout(() => resolve([layers[1]!]), 100)), [layers[0]!]);
    const outcome = await sandbox.run({
      code: 'print(open("hello.txt").read().strip()); print(sum(" /home/sandbox " in line and " - overlay " in line for line in open("/proc/self/mountinfo")))',
      env: {},
      timeoutMs: 10_000,
    });
    expect(outcome).toMatchObject({ stderr: '', stdout: 'came\n1\n' });
  }, 60_000);

  it('sees storage bound at /data after the fork: read-only and writable', async () => {
    const volume = await mkdtemp(join(fixture.directory, 'volume-'));
    await writeFile(join(volume, 'shared.txt'), 'from the volume\n');
    for (const path of [volume, join(volume, 'shared.txt')]) await chown(path, sandboxUid, sandboxUid);
    const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'python', limits, start: 'fork' });
    await sandbox.ready;
    await sandbox.attachStorage([
      { name: 'readonly', root: volume, path: '', readOnly: true },
      { name: 'writable', root: volume, path: '', readOnly: false },
    ]);
    const outcome = await sandbox.run({
      code: [
        'import os',
        'print(sorted(os.listdir("/data")), open("/data/readonly/shared.txt").read().strip())',
        'try:',
        '    open("/data/readonly/x", "w")',
        'except OSError as error:',
        '    print("read-only", error.errno)',
        'open("/data/writable/written.txt", "w").write("from the fork")',
      ].join('\n'),
      env: {},
      timeoutMs: 10_000,
    });
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toBe("['readonly', 'writable'] from the volume\nread-only 30\n");
    expect(await readFile(join(volume, 'written.txt'), 'utf8')).toBe('from the fork');
  }, 60_000);

  it('200 forks, 8 at a time, all run (the template answers in any order and finds each interpreter)', async () => {
    let next = 0;
    const outcomes: SandboxOutcome[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next++ < 200) outcomes.push(await run('fork', 'print(6 * 7)'));
      }),
    );
    expect(outcomes.filter((outcome) => outcome.stdout !== '42\n')).toEqual([]);
    expect(outcomes).toHaveLength(200);
  }, 120_000);

  it('concurrent forks see neither each other\'s files nor processes', async () => {
    const holder = run('fork', 'import time; open("/tmp/mine", "w").write("a"); open("/home/sandbox/mine", "w").write("a"); open("/dev/shm/mine", "w").write("a"); time.sleep(1.5); print("held")');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const other = await run('fork', 'import os; print(os.path.exists("/tmp/mine"), os.path.exists("/home/sandbox/mine"), os.path.exists("/dev/shm/mine"), len([p for p in os.listdir("/proc") if p.isdigit()]))');
    expect(other.stdout).toBe('False False False 2\n');
    expect((await holder).stdout).toBe('held\n');
  }, 60_000);

  it('cannot make namespaces, trace or regain capabilities', async () => {
    const outcome = await run('fork', [
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'for name, flag in [("user", os.CLONE_NEWUSER), ("mount", os.CLONE_NEWNS), ("pid", os.CLONE_NEWPID), ("net", os.CLONE_NEWNET)]:',
      '    try:',
      '        os.unshare(flag); print(name, "made")',
      '    except OSError as error:',
      '        print(name, error.errno)',
      'print("clone", libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0), ctypes.get_errno())',
      'print("ptrace", libc.ptrace(16, 1, 0, 0), ctypes.get_errno())',
      'print("setuid", libc.setuid(0), ctypes.get_errno())',
      'print(open("/proc/sys/user/max_user_namespaces").read().strip())',
    ].join('\n'));
    expect(outcome.stdout).toBe('user 1\nmount 1\npid 1\nnet 1\nclone -1 1\nptrace -1 1\nsetuid -1 22\n0\n');
  }, 60_000);

  it("runs the template under a seccomp filter of its own, and each fork under the sandbox's on top of it", async () => {
    const filters = 'print([l.split()[1] for l in open("/proc/self/status") if l.startswith(("Seccomp:", "Seccomp_filters:"))])';
    expect((await run('fork', filters)).stdout).toBe("['2', '2']\n");
    expect((await run('fresh', filters)).stdout).toBe("['2', '1']\n");
    // The templates (python) and their namespace makers.
    const seccompOfTemplates = (): string[][] =>
      processesOfUid(sandboxUid)
        .filter((line) => /^(python|fork-namespaces)/.test(line.split(' ')[1] ?? ''))
        .flatMap((line) => {
          try {
            const status = readFileSync(`/proc/${line.split(' ')[0]}/status`, 'utf8');
            return [[/^Seccomp:\s+(\d+)/m.exec(status)?.[1] ?? '?', /^Seccomp_filters:\s+(\d+)/m.exec(status)?.[1] ?? '?']];
          } catch {
            return [];
          }
        });
    // The fork's interpreter may still be unmapping its memory after its exit was believed; the template's stay.
    let templates = seccompOfTemplates();
    await until(() => (templates = seccompOfTemplates()).every(([mode, count]) => mode === '2' && count === '1'), 5_000);
    expect(templates.length).toBeGreaterThanOrEqual(2);
    expect(templates).toEqual(templates.map(() => ['2', '1']));
  }, 60_000);

  it("a forked execution's pid 1 is the namespace maker's, with no environment and no descriptor of the template's", async () => {
    // The code can open what pid 1 holds through /proc/1/fd: the template's request and report pipes would let it
    // read other executions' requests and forge their reports.
    const code = [
      'import os',
      'print(open("/proc/1/comm").read().strip(), repr(open("/proc/1/environ", "rb").read()), os.listdir("/proc/1/fd"))',
      'print([l.split()[1] for l in open("/proc/1/status") if l.startswith(("CapEff", "CapBnd", "NoNewPrivs", "Seccomp:"))])',
    ].join('\n');
    expect((await run('fork', code)).stdout).toBe("airlock-init b'' []\n['0000000000000000', '0000000000000000', '1', '2']\n");
  }, 60_000);

  it('node and bash, and sandboxes with network, start fresh whatever the setting', async () => {
    const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'bash', limits, start: 'fork' });
    const outcome = await sandbox.run({ code: 'cat /proc/1/comm', env: {}, timeoutMs: 10_000 });
    expect(outcome.stdout).toBe('bwrap\n');
  }, 60_000);

  it('close stops the template: no process of the sandbox user and no cgroup is left', async () => {
    const other = await SandboxRuntime.start({
      stateDirectory: join(fixture.directory, 'other'),
      imagesDirectory: inject('imagesDirectory'),
      sandboxUid: sandboxUid + 1,
      sandboxGid: sandboxUid + 1,
      outputLimitBytes: 1024,
      pool: { maxSlots: 2, maxSlotsPerKey: 2, maxConcurrentRefills: 1, idleMs: 60_000 },
      forkPipesRoot: join(fixture.directory, 'fork-pipes'),
    });
    await other.loadImage('default');
    const { sandbox } = await other.acquire({ image: 'default', language: 'python', limits, start: 'fork' });
    expect((await sandbox.run({ code: 'print(2 * 21)', env: {}, timeoutMs: 10_000 })).stdout).toBe('42\n');
    expect(processesOfUid(sandboxUid + 1).length).toBeGreaterThan(0);
    await other.close();
    expect(await noProcessesLeft(sandboxUid + 1)).toEqual([]);
    expect(cgroupSlotDirectories(other.cgroupName)).toEqual([]);
  }, 120_000);
});
