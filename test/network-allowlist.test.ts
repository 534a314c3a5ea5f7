import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxOutcome, SandboxRuntime } from '../packages/runtime/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { createNetworkTopology, type NetworkTopology } from './support/network-topology.js';
import { startTestRuntime } from './support/runtime-fixture.js';

// Sandboxes in `allowlist` mode, on the runtime alone, against hosts in network namespaces this test makes: the
// internet host answers HTTP on 80 and 8080 and HTTPS on 443 (a certificate of the topology's test CA for web, alias,
// other, cdn and *.wild under test.example); `/host` answers the Host header it received.
let runtime: SandboxRuntime;
let directory: string;
let topology: NetworkTopology;

beforeAll(async () => {
  topology = await createNetworkTopology();
  ({ runtime, directory } = await startTestRuntime({
    prefix: 'airlock-allowlist-',
    sandboxUid: testSandboxUid(),
    pool: { maxSlots: 0, maxSlotsPerKey: 0, maxConcurrentRefills: 1, idleMs: 60_000 },
    network: { subnet: '10.215', megabitsPerCpu: 200, dnsUpstream: [topology.dns] },
  }));
}, 120_000);

afterAll(async () => {
  await runtime?.close();
  await rm(directory, { recursive: true, force: true });
  await topology?.remove();
});

const LIMITS = { cpus: 1, memoryBytes: 512 << 20, pids: 128, tmpBytes: 64 << 20, homeBytes: 64 << 20 };

/**
 * Runs bash `lines` in a sandbox restricted to `allowlist`, each line's result printed as `label: output` (curl's
 * body, or `curl N` with its exit code when it failed). The test CA is at /tmp/ca.pem.
 */
async function attempts(allowlist: string[] | undefined, lines: Record<string, string>): Promise<{ results: Record<string, string>; outcome: SandboxOutcome }> {
  const { sandbox } = await runtime.acquire({ image: 'default', language: 'bash', limits: LIMITS, network: 'allowlist' });
  const script = [
    `cat > /tmp/ca.pem <<'PEM'\n${topology.caCertificate.trim()}\nPEM`,
    'try() { local label=$1; shift; local out; out=$("$@" 2>/dev/null); local code=$?; if [ $code -eq 0 ]; then echo "$label: $out"; else echo "$label: failed $code${out:+ $out}"; fi; }',
    ...Object.entries(lines).map(([label, command]) => `try '${label}' ${command}`),
  ].join('\n');
  try {
    const outcome = await sandbox.run({ code: script, env: {}, timeoutMs: 60_000, networkAllowlist: allowlist });
    const results = Object.fromEntries(
      outcome.stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
    );
    return { results, outcome };
  } finally {
    await sandbox.destroy();
  }
}

const CURL = 'curl -sS -m 5 --cacert /tmp/ca.pem';
const RESOLVE = `python3 -c 'import socket,sys; print(socket.gethostbyname(sys.argv[1]))'`;
const UDP = `python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3); s.connect((sys.argv[1],int(sys.argv[2]))); s.send(b"x"); s.recv(10)'`;

describe('allowlist sandboxes', () => {
  it('resolve and reach exactly the listed names, a CNAME and a wildcard included, over HTTPS and HTTP', async () => {
    const { results } = await attempts(['web.test.example', '*.wild.test.example', 'cdn.test.example'], {
      'resolve web': `${RESOLVE} web.test.example`,
      'resolve wildcard': `${RESOLVE} a.b.wild.test.example`,
      'resolve cname': `${RESOLVE} cdn.test.example`,
      'resolve other': `${RESOLVE} other.test.example`,
      'resolve wildcard parent': `${RESOLVE} wild.test.example`,
      'resolve cname target': `${RESOLVE} edge.cdnhost.example`,
      'https web': `${CURL} https://web.test.example/host`,
      'https wildcard': `${CURL} https://api.wild.test.example/host`,
      'https cname': `${CURL} https://cdn.test.example/host`,
      'http web': `${CURL} http://web.test.example/host`,
      'web on 8080': `${CURL} http://web.test.example:8080/host`,
    });
    expect(results).toEqual({
      'resolve web': topology.internet,
      'resolve wildcard': topology.internet,
      'resolve cname': topology.internet,
      'resolve other': 'failed 1',
      'resolve wildcard parent': 'failed 1',
      'resolve cname target': 'failed 1',
      'https web': 'web.test.example',
      'https wildcard': 'api.wild.test.example',
      'https cname': 'cdn.test.example',
      'http web': 'web.test.example',
      'web on 8080': 'web.test.example:8080',
    });
  });

  it('refuse other names by TLS server name and HTTP Host, raw addresses, and QUIC, at once', async () => {
    const started = performance.now();
    const { results, outcome } = await attempts(['web.test.example'], {
      'sni mismatch': `${CURL} --resolve other.test.example:443:${topology.internet} https://other.test.example/host`,
      // No line resolves an allowed name through DNS: its addresses would then be open on every port (the next test).
      'host mismatch': `${CURL} --resolve web.test.example:80:${topology.internet} http://web.test.example/host -H 'Host: other.test.example'`,
      'raw https': `${CURL} -k https://${topology.internet}/host`,
      'raw http': `${CURL} http://${topology.internet}/host`,
      'raw 8080': `${CURL} http://${topology.internet}:8080/host`,
      quic: `${UDP} ${topology.internet} 443`,
      'host address': `${CURL} http://${topology.internetGateway}/`,
      'gateway proxy port': `${CURL} -k https://10.215.0.1/`,
      'private host': `${CURL} http://${topology.privateAddress}/`,
      metadata: `${CURL} http://${topology.metadataAddress}/`,
      'resolve other': `${RESOLVE} other.test.example`,
    });
    expect(results).toEqual({
      'sni mismatch': 'failed 35',
      'host mismatch': "Airlock refused this request: other.test.example is not on this sandbox's network allowlist.",
      'raw https': 'failed 35',
      'raw http': "Airlock refused this request: 198.51.100.10 is not on this sandbox's network allowlist.",
      'raw 8080': 'failed 7',
      quic: 'failed 1',
      'host address': 'failed 7',
      'gateway proxy port': 'failed 7',
      'private host': 'failed 7',
      metadata: 'failed 7',
      'resolve other': 'failed 1',
    });
    expect(performance.now() - started).toBeLessThan(15_000); // nothing waited for a timeout (5 s each)
    const receipt = outcome.network!;
    const entry = (name: string | null, address: string | null, port: number, protocol = 'tcp') =>
      receipt
        .filter((flow) => flow.name === name && flow.address === address && flow.port === port && flow.protocol === protocol)
        .map((flow) => [flow.verdict, flow.rule]);
    expect(entry('other.test.example', topology.internet, 443)).toEqual([['blocked', 'allowlist']]);
    expect(entry('other.test.example', topology.internet, 80)).toEqual([['blocked', 'allowlist']]);
    expect(entry('198.51.100.10', topology.internet, 80)).toEqual([['blocked', 'allowlist']]);
    expect(entry(null, topology.internet, 443)).toEqual([['blocked', 'allowlist']]);
    expect(entry(null, topology.internet, 8080)).toEqual([['blocked', 'allowlist']]);
    expect(entry('other.test.example', null, 53, 'udp')).toEqual([['blocked', 'allowlist']]);
    expect(entry(null, topology.internet, 443, 'udp')).toEqual([['blocked', 'allowlist']]);
    expect(receipt.find((flow) => flow.address === topology.privateAddress)).toMatchObject({ verdict: 'blocked', rule: 'blocked_range' });
  });

  it('take an allowed name to the address the proxy resolves, not to the one the sandbox chose, and count it', async () => {
    // Nothing answers at 198.51.100.99: only the proxy's own resolution of the name reaches the internet host.
    const { results, outcome } = await attempts(['web.test.example'], {
      'chosen address': `${CURL} --resolve web.test.example:443:198.51.100.99 https://web.test.example/bytes/100000 -o /dev/null -w '%{size_download}'`,
    });
    expect(results).toEqual({ 'chosen address': '100000' });
    const flow = outcome.network!.find((entry) => entry.name === 'web.test.example' && entry.port === 443)!;
    expect(flow).toMatchObject({ address: topology.internet, verdict: 'allowed', rule: null, packetsOut: null });
    expect(flow.bytesIn).toBeGreaterThan(100_000);
    expect(flow.bytesOut).toBeGreaterThan(100);
  });

  it('reach listed networks directly, by address, on any port', async () => {
    const { results } = await attempts(['198.51.100.0/24'], {
      'raw https': `${CURL} -k https://${topology.internet}/host`,
      'raw 8080': `${CURL} http://${topology.internet}:8080/host`,
      'resolve web': `${RESOLVE} web.test.example`,
    });
    expect(results).toEqual({ 'raw https': topology.internet, 'raw 8080': `${topology.internet}:8080`, 'resolve web': 'failed 1' });
  });

  it('after 200 calls in both modes, leave no namespace, link, set element, connection tracking, socket or file', async () => {
    const descriptors = readdirSync('/proc/self/fd').length;
    const code = `curl -sS -m 5 --cacert /tmp/ca.pem https://web.test.example/host >/dev/null 2>&1; curl -sS -m 5 http://${topology.internet}:8080/ >/dev/null 2>&1; true`;
    const call = async (index: number) => {
      const allowlist = index % 2 === 0 ? ['web.test.example'] : undefined;
      const { sandbox } = await runtime.acquire({ image: 'default', language: 'bash', limits: LIMITS, network: allowlist ? 'allowlist' : 'unrestricted' });
      try {
        const outcome = await sandbox.run({ code: `printf '%s' '${topology.caCertificate.trim()}' > /tmp/ca.pem; ${code}`, env: {}, timeoutMs: 30_000, networkAllowlist: allowlist });
        expect(outcome.network!.length).toBeGreaterThan(0);
      } finally {
        await sandbox.destroy();
      }
    };
    for (let index = 0; index < 200; index += 2) await Promise.all([call(index), call(index + 1)]);
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toMatch(/^airlock-(?!test-)/m);
    expect(execFileSync('ip', ['-o', 'link']).toString()).not.toMatch(/alk[0-9a-f]{4}\d+/);
    // The sandboxes' addresses, in any set's elements (the rules name the subnet, 10.215.0.0/16, only).
    const table = execFileSync('nft', ['list', 'table', 'inet', 'airlock']).toString();
    expect(table.match(/10\.215\.\d+\.\d+(?!\/)/g) ?? []).toEqual([]);
    const tracked = execFileSync('conntrack', ['-L', '-s', '10.215.0.0/16'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(tracked.trim()).toBe('');
    expect(await readdir(`${directory}/run/resolv`)).toEqual([]);
    expect(readdirSync('/proc/self/fd').length).toBeLessThan(descriptors + 10);
  }, 300_000);

  it('reach nothing before their list is bound: an allowlist slot is wired closed', async () => {
    const { results } = await attempts(undefined, {
      'resolve web': `${RESOLVE} web.test.example`,
      'https by address': `${CURL} -k --resolve web.test.example:443:${topology.internet} https://web.test.example/host`,
      'raw 8080': `${CURL} http://${topology.internet}:8080/host`,
    });
    expect(results).toEqual({ 'resolve web': 'failed 1', 'https by address': 'failed 35', 'raw 8080': 'failed 7' });
  });

  it('leave nothing of their allowlist in the host sets once released', async () => {
    await attempts(['web.test.example', '198.51.100.0/25'], { web: `${CURL} https://web.test.example/host`, raw: `${CURL} http://${topology.internet}:8080/` });
    for (const set of ['allowlisted', 'allowed_networks', 'resolved']) {
      const listing = execFileSync('nft', ['list', 'set', 'inet', 'airlock', set]).toString();
      expect(listing, set).not.toContain('10.215.');
    }
    expect(execFileSync('nft', ['list', 'map', 'inet', 'airlock', 'proxied']).toString()).not.toContain('10.215.');
  });
});
