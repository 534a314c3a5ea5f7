import { spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ImageStore } from '../packages/runtime/src/image/image-store.js';
import { SANDBOX_STARTS, type SandboxLimits } from '../packages/runtime/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { processesOfUid } from './support/host-inspection.js';
import { useTestRuntime } from './support/runtime-fixture.js';

// The python stub ends the interpreter itself (exit handlers, flushed streams, the code's modules and __main__
// cleared, then a report and _exit) instead of letting it tear everything down. What the code sees of its end must
// be what `python3 -c CODE` gives in the same image, in both tiers.
const limits: SandboxLimits = { cpus: 1, memoryBytes: 512 << 20, pids: 256, tmpBytes: 64 << 20, homeBytes: 64 << 20 };
const sandboxUid = testSandboxUid();
const fixture = useTestRuntime({
  prefix: 'airlock-python-exit-',
  sandboxUid,
  pool: { maxSlots: 0, maxSlotsPerKey: 0, maxConcurrentRefills: 1, idleMs: 60_000 },
});
let rootfs: string;

beforeAll(async () => {
  const image = await new ImageStore({ directory: inject('imagesDirectory') }).get('default');
  rootfs = image!.rootfs;
});

/** `python3 -c code` in a bare bubblewrap sandbox of the same image, as uid 1000 in /tmp. */
function reference(code: string): { exitCode: number; stdout: string; stderr: string } {
  const result = spawnSync(
    'bwrap',
    ['--unshare-all', '--unshare-user', '--uid', '1000', '--gid', '1000', '--die-with-parent', '--ro-bind', rootfs, '/',
      '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--clearenv', '--setenv', 'PATH', '/usr/local/bin:/usr/bin:/bin',
      '--setenv', 'LANG', 'C.UTF-8', '--chdir', '/tmp', 'python3', '-c', code],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return { exitCode: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

const PROGRAMS: Array<[string, string]> = [
  ['sys.exit with a code', 'import sys; print("x"); sys.exit(3)'],
  ['sys.exit with a message', 'import sys; sys.exit("bad thing")'],
  ['sys.exit with None', 'import sys; sys.exit(None)'],
  ['a code over 255', 'import sys; sys.exit(258)'],
  ['uncaught exception', 'def f():\n    1 / 0\nf()'],
  ['syntax error', 'def f(:\n  pass'],
  ['objects of __main__ finalized at exit', 'class D:\n    def __del__(self):\n        print("finalized", flush=True)\nd = D()\nimport sys; sys.stdout.write("no newline")'],
  ['a file left open and unflushed', 'import os\nf = os.fdopen(os.dup(1), "w", buffering=1 << 16)\nf.write("never flushed by the code\\n")'],
  ['an object of a module the code made', 'import sys\nopen("/tmp/made.py", "w").write("class D:\\n    def __del__(self):\\n        print(\'module object finalized\')\\nd = D()\\n")\nsys.path.insert(0, "/tmp")\nimport made'],
  ['atexit and buffered output', 'import atexit; atexit.register(lambda: print("bye")); print("hi", end="")'],
  ['atexit handlers in reverse order', 'import atexit\nfor n in range(3):\n    atexit.register(print, "handler", n)'],
  ['an exit handler that raises', 'import atexit\ndef bad():\n    raise ValueError("in handler")\natexit.register(bad); print("code done")'],
  ['a non-daemon thread outlives the code', 'import threading, time\ndef late():\n    time.sleep(0.2); print("thread done")\nthreading.Thread(target=late).start(); print("main done")'],
  ['a daemon thread is dropped', 'import threading, time\ndef forever():\n    time.sleep(0.05); print("daemon still here", flush=True); time.sleep(60)\nthreading.Thread(target=forever, daemon=True).start(); print("main done")'],
  ['stdout closed by the code', 'import sys; print("before"); sys.stdout.close()'],
];

describe.each(SANDBOX_STARTS)('python ends as python3 -c does (%s start)', (start) => {
  it.each(PROGRAMS)('%s', async (_name, code) => {
    const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'python', limits, start });
    const outcome = await sandbox.run({ code, env: {}, timeoutMs: 20_000 });
    // Object addresses differ from process to process.
    const comparable = ({ exitCode, stdout, stderr }: { exitCode: number; stdout: string; stderr: string }) => ({
      exitCode,
      stdout,
      stderr: stderr.replace(/ at 0x[0-9a-f]+/g, ' at 0x…'),
    });
    expect(comparable(outcome)).toEqual(comparable(reference(code)));
  }, 60_000);
});

describe.each(SANDBOX_STARTS)('what runs after the exit (%s start)', (start) => {
  it('finds no process the code left, even one that closed its output before the interpreter reported its exit', async () => {
    const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'python', limits, start });
    let seen: string[] = [];
    const outcome = await sandbox.run({
      code: 'import subprocess\nsubprocess.Popen(["tail", "-f", "/dev/null"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)\nprint("left")',
      env: {},
      timeoutMs: 20_000,
      // As a thread's save does: nothing of the sandbox may write to its home meanwhile.
      afterExit: async () => {
        seen = processesOfUid(sandboxUid).filter((line) => line.split(' ')[1] === 'tail');
      },
    });
    expect(outcome.stdout).toBe('left\n');
    expect(seen).toEqual([]);
  }, 60_000);

  it('finds every descriptor of the code closed, though the interpreter may still be tearing its memory down', async () => {
    const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'python', limits, start });
    let open: string[] = [];
    await sandbox.run({
      // A raw descriptor, which no object of the code's closes at exit: only the process's end, or the stub, does.
      code: 'import os\nos.open("/tmp/held-by-the-code", os.O_CREAT | os.O_WRONLY)\nprint("held")',
      env: {},
      timeoutMs: 20_000,
      afterExit: async () => {
        open = descriptorsOfUid(sandboxUid).filter((target) => target.endsWith('/held-by-the-code'));
      },
    });
    expect(open).toEqual([]);
  }, 60_000);
});

/** What the descriptors of the uid's processes point at. */
function descriptorsOfUid(uid: number): string[] {
  return processesOfUid(uid).flatMap((line) => {
    const pid = line.split(' ')[0];
    try {
      return readdirSync(`/proc/${pid}/fd`).map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      return [];
    }
  });
}
