import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { testApiKey, testSandboxUid } from './support/airlock-fixture.js';
import { startServeProcess, waitForExit } from './support/cli-process.js';
import { until } from './support/wait.js';

function execute(url: string, key: string, body: Record<string, unknown>) {
  return fetch(`${url}/v1/sandbox/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

it('a server killed while it saves a thread leaves the thread at its last complete state, and free', async () => {
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-thread-crash-'));
  const key = testApiKey();
  const uid = testSandboxUid();
  const environment = { AIRLOCK_BOOTSTRAP_API_KEY: key, AIRLOCK_SANDBOX_UID: String(uid), AIRLOCK_SANDBOX_GID: String(uid) };
  const incoming = join(dataDirectory, 'blobs', 'incoming');
  try {
    const first = await startServeProcess({ dataDirectory, environment });
    const saved = await execute(first.url, key, { language: 'bash', thread_id: 'crashy', code: 'echo one > state.txt' });
    expect(saved.status).toBe(200);

    // A large change keeps the save busy long enough to kill the server in the middle of it.
    const pending = execute(first.url, key, {
      language: 'bash',
      thread_id: 'crashy',
      code: 'echo two > state.txt; head -c 300000000 /dev/urandom > big.bin',
    }).catch((error: Error) => error);
    const savingStarted = await until(() => {
      try {
        return readdirSync(incoming).length > 0;
      } catch {
        return false;
      }
    }, 60_000);
    expect(savingStarted).toBe(true);
    first.child.kill('SIGKILL');
    await waitForExit(first.child);
    expect(await pending).toBeInstanceOf(Error);

    const second = await startServeProcess({ dataDirectory, environment });
    try {
      const after = await execute(second.url, key, { language: 'bash', thread_id: 'crashy', code: 'cat state.txt; ls' });
      expect(after.status).toBe(200);
      expect(await after.json()).toMatchObject({ stdout: 'one\nstate.txt\n' });
      // The half-written blob of the killed save is gone.
      const leftOver = (() => {
        try {
          return readdirSync(incoming);
        } catch {
          return [];
        }
      })();
      expect(leftOver).toEqual([]);
    } finally {
      second.child.kill('SIGTERM');
      await waitForExit(second.child);
    }
  } finally {
    await rm(dataDirectory, { recursive: true, force: true });
  }
});
