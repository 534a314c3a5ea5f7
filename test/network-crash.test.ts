import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testApiKey, testSandboxUid } from './support/airlock-fixture.js';
import { startServeProcess, waitForExit } from './support/cli-process.js';
import { createNetworkTopology, type NetworkTopology } from './support/network-topology.js';
import { until } from './support/wait.js';

let topology: NetworkTopology;
let dataDirectory: string;

beforeAll(async () => {
  topology = await createNetworkTopology();
  dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-network-crash-'));
}, 60_000);

afterAll(async () => {
  await topology?.remove();
  if (dataDirectory) await rm(dataDirectory, { recursive: true, force: true });
});

/** The namespaces of this data directory's server: `airlock-<first 4 hex of its runtime instance>-<n>`. */
function serverNamespaces(): string[] {
  const tag = createHash('sha256').update(join(dataDirectory, 'run')).digest('hex').slice(0, 4);
  return execFileSync('ip', ['netns', 'list'])
    .toString()
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.startsWith(`airlock-${tag}-`));
}

it('a server killed with sandboxes on the network leaves namespaces that its next start removes', async () => {
  const key = testApiKey();
  const uid = String(testSandboxUid());
  const environment = {
    AIRLOCK_BOOTSTRAP_API_KEY: key,
    AIRLOCK_SANDBOX_UID: uid,
    AIRLOCK_SANDBOX_GID: uid,
    AIRLOCK_NETWORK: 'on',
    AIRLOCK_NETWORK_SUBNET: '10.216',
    AIRLOCK_NETWORK_DNS: topology.dns,
  };
  const first = await startServeProcess({ dataDirectory, environment });
  try {
    const adminToken = (await readFile(join(dataDirectory, 'admin-token'), 'utf8')).trim();
    const changed = await fetch(`${first.url}/admin/v1/sandboxes/default`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ network: 'unrestricted' }),
    });
    expect(changed.status).toBe(200);
    void fetch(`${first.url}/v1/sandbox/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'bash', code: 'sleep 60' }),
    }).catch(() => undefined);
    expect(await until(() => serverNamespaces().length > 0, 30_000)).toBe(true);
  } finally {
    first.child.kill('SIGKILL');
    await waitForExit(first.child);
  }
  expect(serverNamespaces().length).toBeGreaterThan(0);

  const second = await startServeProcess({ dataDirectory, environment });
  try {
    expect(serverNamespaces()).toEqual([]);
  } finally {
    second.child.kill('SIGTERM');
    await waitForExit(second.child);
  }
}, 120_000);
