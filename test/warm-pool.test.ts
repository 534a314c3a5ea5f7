import { chown, lstat, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { SandboxRuntime, type SandboxLanguage, type SandboxLimits, type SandboxOutcome } from '../packages/runtime/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { useTestRuntime } from './support/runtime-fixture.js';
import { cgroupSlotDirectories, mountsBelow, noProcessesLeft, processesOfUid } from './support/host-inspection.js';

const limits: SandboxLimits = { cpus: 1, memoryBytes: 512 << 20, pids: 256, tmpBytes: 64 << 20, homeBytes: 64 << 20 };
const sandboxUid = testSandboxUid();
const fixture = useTestRuntime({
  prefix: 'airlock-warm-',
  sandboxUid,
  pool: { maxSlots: 6, maxSlotsPerKey: 2, maxConcurrentRefills: 2, idleMs: 60_000 },
});

async function runCold(language: SandboxLanguage, code: string, env: Record<string, string> = {}): Promise<SandboxOutcome> {
  const sandbox = await fixture.runtime.prepare({ image: 'default', language, limits });
  return sandbox.run({ code, env, timeoutMs: 10_000 });
}

/** Runs on a pre-started sandbox: asks until the pool hands one out. */
async function runWarm(language: SandboxLanguage, code: string, env: Record<string, string> = {}): Promise<SandboxOutcome> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { sandbox, warm } = await fixture.runtime.acquire({ image: 'default', language, limits });
    if (warm) return sandbox.run({ code, env, timeoutMs: 10_000 });
    await sandbox.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the pool never handed out a warm sandbox');
}

const PROGRAMS: Array<[SandboxLanguage, string, string]> = [
  ['python', 'argv and __name__', 'import sys; print(sys.argv, __name__, "__file__" in dir(), sorted(k for k in globals() if not k.startswith("__")))'],
  ['python', 'sys.exit with a code', 'import sys; print("x"); sys.exit(3)'],
  ['python', 'sys.exit with a message', 'import sys; sys.exit("bad thing")'],
  ['python', 'uncaught exception', 'def f():\n    1 / 0\nf()'],
  ['python', 'syntax error', 'def f(:\n  pass'],
  ['python', 'killed by a signal', 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)'],
  ['python', 'environment and children', 'import os, subprocess; print(os.environ["GREETING"]); subprocess.run(["sh", "-c", "echo child $GREETING"])'],
  ['python', 'working directory and home', 'import os; print(os.getcwd(), os.path.expanduser("~"), os.listdir("."))'],
  ['python', 'KeyboardInterrupt', 'raise KeyboardInterrupt'],
  ['python', 'atexit and buffered output', 'import atexit; atexit.register(lambda: print("bye")); print("hi", end="")'],
  ['node', 'argv, require and module', 'console.log(process.argv.length, typeof require, typeof module.exports, __filename)'],
  ['node', 'process.exit', 'console.log("x"); process.exit(4)'],
  ['node', 'exitCode', 'process.exitCode = 5'],
  ['node', 'uncaught exception', 'function f() { throw new TypeError("nope") }\nf()'],
  ['node', 'unhandled rejection', 'Promise.reject(new Error("later"))'],
  ['node', 'environment and children', 'console.log(process.env.GREETING); require("child_process").execSync("echo child $GREETING", { stdio: "inherit" })'],
  ['bash', 'exit code and stderr', 'echo out; echo err >&2; exit 6'],
  ['bash', 'environment and children', 'echo $GREETING; sh -c "echo child \\$GREETING"'],
  ['bash', 'signal', 'kill -INT $$; echo not reached'],
];

describe('a warm sandbox behaves exactly like a cold one', () => {
  it.each(PROGRAMS)('%s: %s', async (language, _name, code) => {
    const env = { GREETING: 'hello' };
    const cold = await runCold(language, code, env);
    const warm = await runWarm(language, code, env);
    const comparable = (outcome: SandboxOutcome) => ({
      status: outcome.status,
      exitCode: outcome.exitCode,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
    });
    expect(comparable(warm)).toEqual(comparable(cold));
  });
});

describe('home layers attached by mount propagation', () => {
  /** A read-only home layer on the host, as a thread's earlier calls would have left it. */
  async function makeLayer(): Promise<string> {
    const layer = await mkdtemp(join(fixture.directory, 'layer-'));
    const site = join(layer, '.local/lib/python3.13/site-packages');
    await mkdir(site, { recursive: true });
    await writeFile(join(layer, 'hello.txt'), 'from an earlier call\n');
    await writeFile(join(site, 'airlock_probe.py'), 'VALUE = 42\n');
    for (const path of [layer, join(layer, '.local'), join(layer, '.local/lib'), join(layer, '.local/lib/python3.13'), site, join(layer, 'hello.txt'), join(site, 'airlock_probe.py')]) {
      await chown(path, sandboxUid, sandboxUid);
    }
    return layer;
  }

  const CODE = [
    'import os, sys, airlock_probe',
    'print(open(os.path.expanduser("~/hello.txt")).read().strip(), airlock_probe.VALUE)',
    'print(any(p.endswith("/.local/lib/python3.13/site-packages") for p in sys.path))',
    'open("new.txt", "w").write("written")',
    'os.remove("hello.txt")',
    'print(sorted(os.listdir(".")))',
  ].join('\n');

  it('a warm sandbox sees layers mounted after it started, like a cold one, and its changes land in the upper layer', async () => {
    const results = [];
    for (const warm of [false, true]) {
      const layer = await makeLayer();
      let sandbox;
      if (warm) {
        for (let attempt = 0; attempt < 200; attempt++) {
          const acquired = await fixture.runtime.acquire({ image: 'default', language: 'python', limits });
          if (acquired.warm) {
            sandbox = acquired.sandbox;
            break;
          }
          await acquired.sandbox.destroy();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } else {
        sandbox = await fixture.runtime.prepare({ image: 'default', language: 'python', limits });
      }
      const changes = await sandbox!.attachLayers([layer]);
      let changed: string[] = [];
      let whiteout = false;
      const outcome = await sandbox!.run({
        code: CODE,
        env: {},
        timeoutMs: 10_000,
        afterExit: async () => {
          changed = (await readdir(changes)).sort();
          const entry = await lstat(join(changes, 'hello.txt'));
          whiteout = entry.isCharacterDevice() && entry.rdev === 0;
        },
      });
      expect(outcome.stderr).toBe('');
      // .local is there too: python wrote the imported module's bytecode cache next to it.
      expect(changed).toEqual(['.local', 'hello.txt', 'new.txt']);
      expect(whiteout).toBe(true);
      expect(await readFile(join(layer, 'hello.txt'), 'utf8')).toBe('from an earlier call\n');
      results.push(outcome.stdout);
    }
    expect(results[1]).toBe(results[0]);
    expect(results[0]).toBe("from an earlier call 42\nTrue\n['.local', 'new.txt']\n");
  });

  it('leaves no mount behind once the sandbox is destroyed', async () => {
    const homes = join(fixture.directory, 'run', 'mounts');
    const layer = await makeLayer();
    const before = mountsBelow(homes);
    const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'bash', limits });
    await sandbox.attachLayers([layer]);
    // Its home tmpfs, the upper layer's tmpfs and the overlay (the pool may start others meanwhile).
    const own = mountsBelow(homes).filter((path) => !before.includes(path));
    expect(own.filter((path) => path.endsWith('/home')).length).toBeGreaterThanOrEqual(2);
    expect(own.filter((path) => path.endsWith('/upper'))).toHaveLength(1);
    const outcome = await sandbox.run({ code: 'cat ~/hello.txt', env: {}, timeoutMs: 10_000 });
    expect(outcome.stdout).toBe('from an earlier call\n');
    await sandbox.destroy();
    const ownDirectory = own.find((path) => path.endsWith('/upper'))!.replace(/\/upper$/, '');
    expect(mountsBelow(ownDirectory)).toEqual([]);
  });

  it('layers that come after expected ones: the code sees the layers that came, whether they match or not, ready sandbox or not', async () => {
    const homes = join(fixture.directory, 'run', 'mounts');
    const earlier = await makeLayer();
    const later = await makeLayer();
    await writeFile(join(later, 'hello.txt'), 'from the latest call\n');
    const cases = [
      { ready: true, expected: [earlier], actual: [earlier], seen: 'from an earlier call\n' },
      { ready: true, expected: [earlier], actual: [later], seen: 'from the latest call\n' },
      { ready: true, expected: [later], actual: [], seen: '' },
      // Still starting: the expected layers are not mounted (the sandbox could copy them into its own namespace).
      { ready: false, expected: [earlier], actual: [later], seen: 'from the latest call\n' },
    ];
    for (const { ready, expected, actual, seen } of cases) {
      const sandbox = await fixture.runtime.prepare({ image: 'default', language: 'bash', limits });
      if (ready) await sandbox.ready;
      const before = mountsBelow(homes);
      const layers = new Promise<readonly string[]>((resolve) => setTimeout(() => resolve(actual), 100));
      await sandbox.attachLayers(layers, expected);
      const upper = mountsBelow(homes).find((path) => !before.includes(path) && path.endsWith('/upper'))!;
      const directory = upper.slice(0, upper.lastIndexOf('/'));
      // The home's tmpfs with one overlay over it, /data's tmpfs and the upper layer's tmpfs.
      expect(mountsBelow(directory).map((path) => path.slice(directory.length + 1)).sort()).toEqual(['data', 'home', 'home', 'upper']);
      const code = 'cat ~/hello.txt 2>/dev/null; grep " /home/sandbox " /proc/self/mountinfo | grep -c " - overlay "';
      const outcome = await sandbox.run({ code, env: {}, timeoutMs: 10_000 });
      await sandbox.destroy();
      expect(outcome.stdout, JSON.stringify({ ready, expected, actual })).toBe(`${seen}1\n`);
      expect(mountsBelow(directory)).toEqual([]);
    }
  });
});

describe('warm pool', () => {
  it('hands each sandbox out once and leaves nothing of a run behind', async () => {
    const first = await runWarm('bash', 'echo $$ > /tmp/mark; (setsid sleep 300 &); echo started');
    expect(first.stdout).toBe('started\n');
    const second = await runWarm('bash', 'ls /tmp; echo done');
    expect(second.stdout).toBe('done\n');
    expect((await noProcessesLeft(sandboxUid)).filter((line) => line.includes(' sleep '))).toEqual([]);
  });

  it('hands out sandboxes quickly once warm', async () => {
    await runWarm('python', 'pass');
    const outcome = await runWarm('python', 'print(1)');
    expect(outcome.stdout).toBe('1\n');
    const statistics = fixture.runtime.poolStatistics();
    expect(statistics?.hits).toBeGreaterThan(0);
    expect(statistics?.keys.some((key) => key.key.startsWith('default/python/'))).toBe(true);
  });

  it('drains on close: no process of the sandbox user and no slot cgroup is left', async () => {
    const other = await SandboxRuntime.start({
      stateDirectory: join(fixture.directory, 'other'),
      imagesDirectory: inject('imagesDirectory'),
      sandboxUid: sandboxUid + 1,
      sandboxGid: sandboxUid + 1,
      outputLimitBytes: 1024,
      pool: { maxSlots: 4, maxSlotsPerKey: 2, maxConcurrentRefills: 2, idleMs: 60_000 },
    });
    await other.loadImage('default');
    await (await other.acquire({ image: 'default', language: 'python', limits })).sandbox.destroy();
    for (let attempt = 0; attempt < 100 && (other.poolStatistics()?.readySlots ?? 0) === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(processesOfUid(sandboxUid + 1).length).toBeGreaterThan(0);
    expect(cgroupSlotDirectories(other.cgroupName).length).toBeGreaterThan(0);
    await other.close();
    expect(await noProcessesLeft(sandboxUid + 1)).toEqual([]);
    expect(cgroupSlotDirectories(other.cgroupName)).toEqual([]);
  });
});
