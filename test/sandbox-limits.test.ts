import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { noProcessesLeft, processesInMountNamespace, processesOfUid } from './support/host-inspection.js';
import { SANDBOX_STARTS } from '../packages/runtime/src/index.js';

/** tmpfs pages in use on the host (the Shmem line of /proc/meminfo). */
function sharedMemoryBytes(): number {
  return Number(/^Shmem:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) * 1024;
}

let airlock: AirlockFixture;
/** Processes of the sandbox uid that belong to no execution: a fork template's. */
let templateProcesses: string[] = [];

function executionProcessesLeft(): Promise<string[]> {
  return noProcessesLeft(airlock.sandboxUid, 2000, templateProcesses);
}

describe.each(SANDBOX_STARTS)('limits (%s start)', (start) => {
  beforeAll(async () => {
    // Cold sandboxes only, so every process of the sandbox uid belongs to the execution under test or to the
    // fork template, which the first call starts.
    airlock = await startAirlock({ environment: { AIRLOCK_POOL_MAX_SLOTS: '0' }, start });
    await airlock.execute({ code: 'pass' });
    templateProcesses = start === 'fork' ? processesOfUid(airlock.sandboxUid) : [];
  });
  afterAll(async () => {
    await airlock?.close();
  });

  it('a timeout kills a tree of processes that double-fork and ignore SIGTERM; nothing survives', async () => {
    const code = `
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                time.sleep(0.1)
        os._exit(0)
print("daemons started", flush=True)
while True:
    time.sleep(0.1)
`;
    const started = performance.now();
    const result = await airlock.execute({ code, timeout: 2 });
    expect(result).toMatchObject({ status: 'timeout', success: false, exit_code: 137, stdout: 'daemons started\n' });
    expect(result).toMatchObject({ error: 'timeout', error_message: expect.stringMatching(/timed out after 2 s/) });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(await executionProcessesLeft()).toEqual([]);
  });

  it('daemons left behind by code that exits normally are killed too', async () => {
    const result = await airlock.execute({ language: 'bash', code: '(setsid sleep 300 &) ; nohup sleep 300 >/dev/null 2>&1 & echo left' });
    expect(result).toMatchObject({ status: 'success', stdout: 'left\n' });
    expect(await executionProcessesLeft()).toEqual([]);
  });

  it('a fork bomb is contained by the pids limit', async () => {
    const result = await airlock.execute({
      language: 'bash',
      code: 'bomb() { bomb | bomb & }; bomb; sleep 2; echo survived',
      timeout: 10,
    });
    expect(['success', 'failed', 'timeout']).toContain(result.status);
    const health = await airlock.execute({ code: 'print("still serving")' });
    expect(health.stdout).toBe('still serving\n');
    expect(await executionProcessesLeft()).toEqual([]);
  });

  it('a memory bomb ends as oom', async () => {
    const result = await airlock.execute({ code: 'blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))', timeout: 30 });
    expect(result).toMatchObject({ status: 'oom', success: false });
    expect(result).toMatchObject({ error: 'memory_limit_exceeded', error_message: expect.stringMatching(/out of memory/) });
  });

  it('filling /tmp hits ENOSPC inside the sandbox, and the space is gone with the sandbox', async () => {
    const hostTmpfsBefore = sharedMemoryBytes();
    const result = await airlock.execute({
      language: 'bash',
      code:
        'dd if=/dev/zero of=/tmp/fill bs=1M count=4096 2>&1 | grep -o "No space left on device"; ' +
        'df -m --output=size /tmp | tail -1; grep ^Shmem: /proc/meminfo | tr -s " " | cut -d" " -f2; readlink /proc/self/ns/mnt',
      timeout: 60,
    });
    expect(result.status).toBe('success');
    const [error, sizeMegabytes, tmpfsKilobytesWhileFull, mountNamespace] = result.stdout.trim().split('\n');
    expect(error).toBe('No space left on device');
    expect(Number(sizeMegabytes)).toBe(512); // half of the default 1 GiB sandbox
    // /proc/meminfo is the host's: the full /tmp shows in its Shmem line while the sandbox lives.
    expect(Number(tmpfsKilobytesWhileFull) * 1024).toBeGreaterThan(hostTmpfsBefore + 400 * 1024 * 1024);
    const after = await airlock.execute({ language: 'bash', code: 'ls -A /tmp | wc -l' });
    expect(after.stdout).toBe('0\n');
    // The tmpfs lived in the sandbox's mount namespace, which no process holds any more. Shmem (shared with the
    // other test files running meanwhile) is back below the filled level.
    expect(mountNamespace).toMatch(/^mnt:\[\d+\]$/);
    expect(processesInMountNamespace(mountNamespace ?? '')).toEqual([]);
    expect(sharedMemoryBytes()).toBeLessThan(hostTmpfsBefore + 400 * 1024 * 1024);
  });

  it('10 MB of output is truncated to 64 KB while the pipes keep draining', async () => {
    const rssBefore = process.memoryUsage().rss;
    const result = await airlock.execute({
      code: 'import sys\nfor _ in range(10):\n    sys.stdout.write("x" * (1024 * 1024))\n    sys.stderr.write("y" * (1024 * 1024))\nprint("done", file=sys.stderr)',
    });
    expect(result).toMatchObject({ status: 'success', stdout_truncated: true, stderr_truncated: true });
    expect(Buffer.byteLength(result.stdout)).toBe(64 * 1024);
    expect(Buffer.byteLength(result.stderr)).toBe(64 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });
});
