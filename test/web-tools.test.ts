import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { startNamespaceServer, type NamespaceServer } from './support/namespace-server.js';
import { createNetworkTopology, type NetworkTopology } from './support/network-topology.js';

// The web tools from sandboxes whose network is blocked (this server runs sandboxes without any network): they reach
// the web only through the server's gateway, under their sandbox config's policy. The "internet" is the test
// topology's host (198.51.100.0/24, its names from the test DNS server); the pages of web-pages-server.mjs run there.
let topology: NetworkTopology;
let pages: NamespaceServer;
let airlock: AirlockFixture;
const keys: Record<string, string> = {};
let PAGES = '';

interface Run {
  stdout: string;
  stderr: string;
  exit_code: number;
  trace_id: string;
}

const run = async (key: string, code: string, language = 'python', env_vars?: Record<string, string>) =>
  (await airlock.request<Run>('/v1/sandbox/execute', { method: 'POST', apiKey: key, json: { code, language, ...(env_vars && { env_vars }) } })).body;

const WEB_POLICY = {
  domains: { mode: 'blocklist', entries: ['other.test.example'] },
  https_only: false,
  requests_per_call: 8,
  requests_per_minute: 100,
  max_response_bytes: 200_000,
  injection_scan: 'flag',
};

beforeAll(async () => {
  topology = await createNetworkTopology();
  const address = topology.serverAddresses.internet;
  PAGES = `http://${address}:8081`;
  pages = await startNamespaceServer({
    name: 'web pages',
    namespace: topology.namespaces.internet,
    address,
    port: 8081,
    command: process.execPath,
    args: [join(import.meta.dirname, 'support', 'web-pages-server.mjs'), address, '8081'],
    directory: await mkdtemp(join(tmpdir(), 'airlock-web-pages-')),
  });
  airlock = await startAirlock({ environment: { AIRLOCK_WEB_DNS: topology.dns } });
  const admin = (path: string, json: unknown, method = 'POST') => airlock.admin(path, json, method);
  await admin('/admin/v1/sandboxes', { name: 'reader', web: WEB_POLICY });
  await admin('/admin/v1/sandboxes', { name: 'guarded', web: { ...WEB_POLICY, injection_scan: 'block' } });
  await admin('/admin/v1/sandboxes', { name: 'offline' });
  keys.reader = (await admin('/admin/v1/api-keys', { name: 'reader-key', sandbox: 'reader' })).key as string;
  keys.guarded = (await admin('/admin/v1/api-keys', { name: 'guarded-key', sandbox: 'guarded' })).key as string;
  keys.offline = (await admin('/admin/v1/api-keys', { name: 'offline-key', sandbox: 'offline' })).key as string;
  keys.narrowed = (await admin('/admin/v1/api-keys', { name: 'narrowed-key', sandbox: 'reader', web: { requests_per_call: 1, search: false } })).key as string;
  await admin(`/admin/v1/web/search-provider`, { kind: 'searxng', endpoint: `${PAGES}/searx` }, 'PUT');
}, 240_000);

afterAll(async () => {
  await airlock?.close();
  await pages?.stop();
  await topology?.remove();
});

describe('the web tools', () => {
  it('fetch a page as readable text from a sandbox with no network, which still reaches nothing itself', async () => {
    const result = await run(
      keys.reader!,
      [
        'from airlock_web import fetch',
        'import socket',
        `page = fetch("${PAGES}/plain")`,
        'print(page["title"], page["final_url"], page["scan"]["flagged"])',
        'print(page["text"].splitlines()[0])',
        'try:',
        `    socket.create_connection(("${topology.serverAddresses.internet}", 8081), timeout=2)`,
        '    print("reached")',
        'except OSError as error:',
        '    print("unreachable")',
      ].join('\n'),
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual([`Bees ${PAGES}/plain False`, expect.stringContaining('Bees are flying insects.'), 'unreachable', '']);
  });

  it('as commands and from Node.js, by name through the operator\'s DNS', async () => {
    const command = await run(keys.reader!, 'web-fetch http://web.test.example/ && web-fetch --json http://web.test.example/ | jq -r .status', 'bash');
    expect(command).toMatchObject({ exit_code: 0 });
    expect(command.stdout).toBe('URL: http://web.test.example/\n\ninternet\n200\n');
    const node = await run(keys.reader!, `const web = require('airlock-web');\nweb.fetch('${PAGES}/plain').then((page) => console.log(page.title, page.truncated));`, 'node');
    expect(node.stdout).toBe('Bees false\n');
  });

  it('refuse redirects to private, metadata and blocked destinations, and what the policy blocks, naming the rule', async () => {
    const result = await run(
      keys.reader!,
      [
        `for path in /redirect-private /redirect-metadata /redirect-blocked; do web-fetch ${PAGES}$path; echo "exit $?"; done`,
        'web-fetch http://other.test.example/; echo "exit $?"',
        'web-fetch http://10.77.0.10/; echo "exit $?"',
        'web-fetch file:///etc/passwd; echo "exit $?"',
      ].join('\n'),
      'bash',
    );
    expect(result.stdout).toBe('exit 2\n'.repeat(6));
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^web-fetch: blocked \(blocked_range:10\.0\.0\.0\/8\): /),
      expect.stringMatching(/^web-fetch: blocked \(blocked_range:169\.254\.0\.0\/16\): /),
      expect.stringMatching(/^web-fetch: blocked \(blocklist:other\.test\.example\): /),
      expect.stringMatching(/^web-fetch: blocked \(blocklist:other\.test\.example\): /),
      expect.stringMatching(/^web-fetch: blocked \(blocked_range:10\.0\.0\.0\/8\): /),
      expect.stringMatching(/^web-fetch: blocked \(scheme\): /),
    ]);
  });

  it('flag an injection page with its reasons, and withhold it where the policy blocks', async () => {
    const flagged = await run(keys.reader!, `web-fetch ${PAGES}/injection-hidden`, 'bash');
    expect(flagged.stdout).toMatch(/^WARNING: this page may carry a prompt injection \(score 0\.\d+: hidden_text:ignore_instructions, hidden_text:new_instructions\)/);
    expect(flagged.stdout).toContain('Bread recipes.');
    const withheld = await run(keys.guarded!, `web-fetch ${PAGES}/injection-visible; echo "exit $?"`, 'bash');
    expect(withheld.stdout).toBe('exit 3\n');
    expect(withheld.stderr).toMatch(/^web-fetch: withheld: .* may carry a prompt injection \(score 0\.\d+: ignore_instructions, secret_request\)/);
    expect(withheld.stdout + withheld.stderr).not.toContain('attacker@evil.example');
  });

  it('search through the organization\'s provider, unless the key turns search off', async () => {
    const results = await run(keys.reader!, 'web-search honey bees --count 1', 'bash');
    expect(results.stdout).toBe(`1. Bees for "honey bees"\n   ${PAGES}/plain\n   All about bees\n`);
    const narrowed = await run(keys.narrowed!, 'web-search bees; echo "exit $?"', 'bash');
    expect(narrowed.stderr).toMatch(/^web-search: blocked \(search_off\)/);
  });

  it('enforce the per-call limit, size and time limits', async () => {
    const limited = await run(keys.narrowed!, `web-fetch ${PAGES}/plain > /dev/null; web-fetch ${PAGES}/plain; echo "exit $?"`, 'bash');
    expect(limited.stderr).toMatch(/^web-fetch: rate_limited \(rate_limit_per_call\): at most 1 web requests per execution/);
    const big = await run(keys.reader!, `from airlock_web import fetch\npage = fetch("${PAGES}/big")\nprint(len(page["text"]), page["truncated"])`);
    expect(big.stdout).toBe('200000 True\n');
  });

  it('is off for a sandbox config without a policy, and a token acts only while its execution runs', async () => {
    const off = await run(keys.offline!, 'web-fetch http://web.test.example/; echo "exit $?"; env | grep -c AIRLOCK_WEB || true', 'bash');
    expect(off.stderr).toMatch(/^web-fetch: off \(policy\): the web tools are off/);
    expect(off.stdout).toBe('exit 2\n0\n');
    // The gateway's directory is read-only in every sandbox: its socket can be neither replaced nor joined by another.
    const tamper = await run(keys.reader!, 'ls /run/airlock/host; rm -f /run/airlock/host/web.sock; touch /run/airlock/host/other.sock; ls /run/airlock/host', 'bash');
    expect(tamper.stdout).toBe('web.sock\nweb.sock\n');
    expect(tamper.stderr).toMatch(/Read-only file system/);
    const first = await run(keys.reader!, 'echo -n "$AIRLOCK_WEB_TOKEN"', 'bash');
    expect(first.stdout).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Another execution presenting the first one's token (ended, so revoked) or a made-up one is refused.
    const replay = await run(
      keys.offline!,
      `import os\nos.environ["AIRLOCK_WEB_SOCKET"] = "/run/airlock/host/web.sock"\nfrom airlock_web import fetch, WebToolError\nfor token in ["${first.stdout}", "x" * 43]:\n    os.environ["AIRLOCK_WEB_TOKEN"] = token\n    try:\n        fetch("http://web.test.example/")\n    except WebToolError as error:\n        print(error.code)`,
    );
    expect(replay.stdout).toBe('unauthorized\nunauthorized\n');
  });

  it('record every request in the audit log, on its execution, with the body copy cut at 60 KB', async () => {
    const fetched = await run(keys.reader!, `web-fetch ${PAGES}/big > /dev/null; web-fetch http://other.test.example/ 2> /dev/null; true`, 'bash');
    const entries = await airlock.request<{ entries: { action: string; actor: string; auth_method: string; target_id: string; outcome: string; reason: string; changes: Record<string, unknown> }[] }>(
      `/admin/v1/audit?action=web&target_id=${fetched.trace_id}`,
      { apiKey: airlock.adminToken },
    );
    const [blocked, big] = entries.body.entries;
    expect(blocked).toMatchObject({ action: 'web.fetch', actor: 'reader-key', auth_method: 'api_key', outcome: 'denied', reason: 'blocklist:other.test.example' });
    expect(big).toMatchObject({ action: 'web.fetch', outcome: 'success', changes: { url: `${PAGES}/big`, status: 200, bytes: 200_000 } });
    expect(Buffer.byteLength(String(big?.changes.body))).toBe(60 * 1024);
    const verified = await airlock.request<{ chains: { ok: boolean }[] }>('/admin/v1/audit/verify', { method: 'POST', apiKey: airlock.adminToken, json: {} });
    expect(verified.body.chains.every((chain) => chain.ok)).toBe(true);
  });

  it('are MCP tools beside sandbox_execute for a key whose policy allows them, under the same policy, audited', async () => {
    const withClient = async <T>(key: string, use: (client: Client) => Promise<T>): Promise<T> => {
      const client = new Client({ name: 'airlock-web-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${airlock.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
      try {
        return await use(client);
      } finally {
        await client.close();
      }
    };
    const offline = await withClient(keys.offline!, async (client) => (await client.listTools()).tools.map((tool) => tool.name));
    expect(offline.sort()).toEqual(['files_download', 'files_list', 'sandbox_execute']);
    await withClient(keys.reader!, async (client) => {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual(['files_download', 'files_list', 'sandbox_execute', 'web_fetch', 'web_search']);
      expect(tools.find((tool) => tool.name === 'sandbox_execute')?.description).toContain('`web-fetch URL`');
      const page = (await client.callTool({ name: 'web_fetch', arguments: { url: `${PAGES}/plain` } })) as CallToolResult;
      expect(page.structuredContent).toMatchObject({ final_url: `${PAGES}/plain`, title: 'Bees', withheld: false, scan: { flagged: false } });
      const refused = (await client.callTool({ name: 'web_fetch', arguments: { url: `${PAGES}/redirect-metadata` } })) as CallToolResult;
      expect(refused).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/^blocked \(blocked_range:169\.254\.0\.0\/16\): /) }] });
      const found = (await client.callTool({ name: 'web_search', arguments: { query: 'bees', count: 1 } })) as CallToolResult;
      expect(found.structuredContent).toMatchObject({ provider: 'searxng', results: [{ url: `${PAGES}/plain` }] });
    });
    const entries = await airlock.request<{ entries: { action: string; target_type: string; reason: string }[] }>('/admin/v1/audit?action=web&target_type=mcp_request', {
      apiKey: airlock.adminToken,
    });
    expect(entries.body.entries.map((entry) => [entry.action, entry.reason])).toEqual([
      ['web.search', 'provider:searxng'],
      ['web.fetch', 'blocked_range:169.254.0.0/16'],
      ['web.fetch', 'not_in_blocklist'],
    ]);
  });
});
