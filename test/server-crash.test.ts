import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openDatabase } from '../packages/db/src/index.js';
import { testApiKey, testSandboxUid } from './support/airlock-fixture.js';
import { startServeProcess, waitForExit } from './support/cli-process.js';
import { cgroupSlotDirectories, mountsBelow, noProcessesLeft, processesOfUid } from './support/host-inspection.js';
import { until } from './support/wait.js';

it('SIGKILL of the server mid-execution leaves nothing behind after the next start', async () => {
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-crash-'));
  const key = testApiKey();
  const uid = testSandboxUid();
  const environment = { AIRLOCK_BOOTSTRAP_API_KEY: key, AIRLOCK_SANDBOX_UID: String(uid), AIRLOCK_SANDBOX_GID: String(uid) };
  try {
    const first = await startServeProcess({ dataDirectory, environment });
    const running = fetch(`${first.url}/v1/sandbox/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'bash', code: '(setsid sleep 600 &); sleep 600' }),
    }).catch((error: Error) => error);
    expect(await until(() => processesOfUid(uid).some((line) => line.includes('sleep')), 10_000)).toBe(true);
    // The execution record is written while the code starts; give the database a moment to commit it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    first.child.kill('SIGKILL');
    await waitForExit(first.child);
    expect(await running).toBeInstanceOf(Error);

    // The sandbox dies with the server (parent-death signals); the restart removes its stale cgroups.
    expect(await noProcessesLeft(uid, 5_000)).toEqual([]);
    const cgroupName = instanceCgroupName(first.stderr());
    expect(cgroupSlotDirectories(cgroupName).length).toBeGreaterThan(0);
    // The killed server's home mounts stay on the host until the next start detaches them.
    const homes = join(dataDirectory, 'run', 'mounts');
    const staleHomes = mountsBelow(homes).filter((path) => /\/h\d+\//.test(path));
    expect(staleHomes.length).toBeGreaterThan(0);
    const second = await startServeProcess({ dataDirectory, environment });
    expect(instanceCgroupName(second.stderr())).toBe(cgroupName);
    expect(cgroupSlotDirectories(cgroupName)).toEqual([]);
    expect(mountsBelow(homes).filter((path) => staleHomes.includes(path))).toEqual([]);
    second.child.kill('SIGTERM');
    expect([await waitForExit(second.child), second.child.signalCode, second.stderr()]).toEqual([0, null, expect.any(String)]);
    expect(mountsBelow(dataDirectory)).toEqual([]);

    const database = await openDatabase({ dataDir: join(dataDirectory, 'pglite') });
    try {
      const rows = await database.query<{ status: string; error: string }>('SELECT status, error FROM executions');
      expect(rows).toEqual([{ status: 'failed', error: "the server stopped while this execution was running; changes it made to a thread's home were not saved" }]);
    } finally {
      await database.close();
    }
    expect(processesOfUid(uid)).toEqual([]);
  } finally {
    await rm(dataDirectory, { recursive: true, force: true });
  }
});

/** The server names its parent cgroup after its state directory and logs the name when it starts listening. */
function instanceCgroupName(log: string): string {
  const name = /"cgroupName":"([^"]+)"/.exec(log)?.[1];
  if (!name) throw new Error(`no cgroup name in the server log:\n${log}`);
  return name;
}
