import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { createNetworkTopology, type NetworkTopology } from './support/network-topology.js';

// Network modes through the API: a sandbox config with `unrestricted`, API keys that narrow it, the execution record.
let topology: NetworkTopology;
let airlock: AirlockFixture;
const keys: Record<string, string> = {};

const FETCH = `
import sys, urllib.request
for url in sys.argv[1:]:
    try:
        print(urllib.request.urlopen(url, timeout=5).read().decode())
    except Exception as error:
        print(type(error).__name__, getattr(error, "reason", error))
`;

function admin(path: string, json: unknown) {
  return airlock.request<Record<string, unknown>>(path, { method: 'POST', json, apiKey: airlock.adminToken });
}

async function fetchFrom(key: string, urls: string[]) {
  const response = await airlock.request<{ stdout: string; stderr: string; trace_id: string; network?: unknown[] }>('/v1/sandbox/execute', {
    method: 'POST',
    apiKey: key,
    json: { language: 'bash', code: `python3 -c '${FETCH}' ${urls.join(' ')}` },
  });
  expect(response.status).toBe(200);
  const record = await airlock.request<{ network_mode: string; network_allow: string[] | null; network: unknown[] | null }>(`/v1/executions/${response.body.trace_id}`, {
    apiKey: key,
  });
  expect(record.body.network ?? undefined).toEqual(response.body.network);
  return {
    lines: response.body.stdout.trim().split('\n'),
    networkMode: record.body.network_mode,
    networkAllow: record.body.network_allow,
    receipt: record.body.network,
  };
}

beforeAll(async () => {
  topology = await createNetworkTopology();
  airlock = await startAirlock({ environment: { AIRLOCK_NETWORK: 'on', AIRLOCK_NETWORK_SUBNET: '10.215', AIRLOCK_NETWORK_DNS: topology.dns } });
  expect((await admin('/admin/v1/sandboxes', { name: 'online', network: 'unrestricted' })).status).toBe(201);
  const listed = { name: 'listed', network: 'allowlist', network_allow: ['web.test.example', '*.wild.test.example'] };
  expect((await admin('/admin/v1/sandboxes', listed)).status).toBe(201);
  const narrowings = [
    ['online', 'online', {}],
    ['narrowed', 'online', { network: 'blocked' }],
    ['listed', 'listed', {}],
    ['sublisted', 'listed', { network: 'allowlist', network_allow: ['web.test.example'] }],
    ['online-listed', 'online', { network: 'allowlist', network_allow: ['api.wild.test.example'] }],
  ] as const;
  for (const [name, sandbox, narrowing] of narrowings) {
    const created = await admin('/admin/v1/api-keys', { name, sandbox, ...narrowing });
    expect(created.status).toBe(201);
    keys[name] = created.body.key as string;
  }
}, 180_000);

afterAll(async () => {
  await airlock?.close();
  await topology?.remove();
});

describe('network modes through the API', () => {
  it('an unrestricted sandbox config reaches the internet by name; private and metadata addresses stay refused', async () => {
    const fetched = await fetchFrom(keys.online!, [
      'http://web.test.example:8080/',
      `http://${topology.privateAddress}/`,
      `http://${topology.metadataAddress}/latest/meta-data/`,
    ]);
    expect(fetched.lines[0]).toBe('internet');
    expect(fetched.lines.slice(1)).toEqual(['URLError [Errno 111] Connection refused', 'URLError [Errno 111] Connection refused']);
    expect(fetched.networkMode).toBe('unrestricted');
    // The receipt: what was contacted, named from the sandbox's DNS, and what was refused, by which rule.
    expect(fetched.receipt).toEqual([
      expect.objectContaining({ name: null, address: topology.privateAddress, port: 80, protocol: 'tcp', verdict: 'blocked', rule: 'blocked_range', packets_in: 0 }),
      expect.objectContaining({ name: null, address: topology.metadataAddress, port: 80, protocol: 'tcp', verdict: 'blocked', rule: 'blocked_range' }),
      expect.objectContaining({ name: 'web.test.example', address: topology.internet, port: 8080, protocol: 'tcp', verdict: 'allowed', rule: null }),
    ]);
    const allowed = fetched.receipt!.at(-1) as { bytes_in: number; bytes_out: number; packets_in: number };
    expect(allowed.bytes_in).toBeGreaterThan(100);
    expect(allowed.bytes_out).toBeGreaterThan(100);
    expect(allowed.packets_in).toBeGreaterThan(2);
  });

  it('pip install --user works from a package index on the internet, and the package stays in the thread', async () => {
    const install = await airlock.request<{ stdout: string; stderr: string; exit_code: number }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: keys.online!,
      json: {
        language: 'bash',
        thread_id: 'with-packages',
        code: `pip install --user --quiet --disable-pip-version-check --index-url ${topology.packageIndex} --trusted-host ${topology.internet} airlock-probe && echo installed`,
      },
    });
    expect(install.body, install.body.stderr).toMatchObject({ exit_code: 0, stdout: 'installed\n' });
    const used = await airlock.request<{ stdout: string }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: keys.narrowed!,
      json: { thread_id: 'with-packages', code: 'import airlock_probe; print(airlock_probe.VALUE)' },
    });
    expect(used.body.stdout).toBe('42\n');
  });

  it('an API key narrowed to blocked, and the default sandbox config, reach nothing', async () => {
    for (const key of [keys.narrowed!, airlock.apiKey]) {
      const fetched = await fetchFrom(key, ['http://web.test.example:8080/', `http://${topology.internet}:8080/`]);
      expect(fetched.lines[0]).toMatch(/^URLError \[Errno -[23]\]/); // no DNS at all
      expect(fetched.lines[1]).toBe('URLError [Errno 101] Network is unreachable');
      expect(fetched.networkMode).toBe('blocked');
      expect(fetched.receipt).toBeNull();
    }
  });

  it('an allowlist sandbox config reaches its names only, and keys narrow its list or an unrestricted config to one', async () => {
    const urls = ['http://web.test.example/host', 'http://api.wild.test.example/host', 'http://other.test.example/host'];
    const refusedName = 'URLError [Errno -3] Temporary failure in name resolution';
    const cases = [
      ['listed', ['web.test.example', '*.wild.test.example'], ['web.test.example', 'api.wild.test.example', refusedName]],
      ['sublisted', ['web.test.example'], ['web.test.example', refusedName, refusedName]],
      ['online-listed', ['api.wild.test.example'], [refusedName, 'api.wild.test.example', refusedName]],
    ] as const;
    for (const [key, allow, lines] of cases) {
      const fetched = await fetchFrom(keys[key]!, [...urls]);
      expect(fetched.lines, key).toEqual(lines);
      expect(fetched.networkMode, key).toBe('allowlist');
      expect(fetched.networkAllow, key).toEqual(allow);
      expect(fetched.receipt, key).toContainEqual(
        expect.objectContaining({ name: 'other.test.example', address: null, port: 53, verdict: 'blocked', rule: 'allowlist', packets_out: null }),
      );
    }
  });

  it('a key cannot widen an allowlist, and the message says which rule', async () => {
    const outside = await admin('/admin/v1/api-keys', { name: 'wider', sandbox: 'listed', network: 'allowlist', network_allow: ['other.test.example'] });
    expect(outside.status).toBe(400);
    expect(outside.body.message).toContain('"other.test.example" is not within the allowlist of sandbox config "listed"');
    const fromBlocked = await admin('/admin/v1/api-keys', { name: 'wider', sandbox: 'default', network: 'allowlist', network_allow: ['web.test.example'] });
    expect(fromBlocked.status).toBe(400);
    expect(fromBlocked.body.message).toContain(`sandbox config "default" is 'blocked'`);
    const privateRange = await admin('/admin/v1/sandboxes', { name: 'private', network: 'allowlist', network_allow: ['10.77.0.0/24'] });
    expect(privateRange.status).toBe(400);
    expect(privateRange.body.message).toContain('"10.77.0.0/24" overlaps 10.0.0.0/8');
  });

  it("the MCP tool's description tells the model the network its key's sandbox has", async () => {
    const describe = async (key: string) => {
      const listed = await airlock.request<unknown>('/mcp', {
        method: 'POST',
        apiKey: key,
        headers: { accept: 'application/json, text/event-stream' },
        json: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      });
      // Answered as JSON or as one server-sent event.
      const message = (typeof listed.body === 'string' ? JSON.parse(listed.body.split('\n').find((line) => line.startsWith('data: '))!.slice('data: '.length)) : listed.body) as {
        result: { tools: Array<{ name: string; description: string }> };
      };
      return message.result.tools.find((tool) => tool.name === 'sandbox_execute')?.description;
    };
    expect(await describe(keys.online!)).toContain('It has internet access');
    expect(await describe(keys.narrowed!)).toContain('It has no network access');
    expect(await describe(keys.sublisted!)).toContain('It reaches only these names and networks: web.test.example.');
  });

  it('a key cannot widen its sandbox config: a key asking for unrestricted is refused', async () => {
    const widened = await admin('/admin/v1/api-keys', { name: 'wider', sandbox: 'default', network: 'unrestricted' });
    expect(widened.status).toBe(400);
    expect(widened.body.message).toMatch(/network.*narrow the network to 'blocked'/);
  });
});
