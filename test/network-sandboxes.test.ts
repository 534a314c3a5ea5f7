import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxNetworkMode, SandboxRuntime } from '../packages/runtime/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { createNetworkTopology, type NetworkTopology } from './support/network-topology.js';
import { startTestRuntime } from './support/runtime-fixture.js';

// Sandboxes with network, on the runtime alone, against hosts in network namespaces this test makes.
let runtime: SandboxRuntime;
let directory: string;
let topology: NetworkTopology;
/** A TCP service of this host (like the server's port or a database's), on every address. */
let hostService: Server;
let hostPort: number;

beforeAll(async () => {
  topology = await createNetworkTopology();
  hostService = createServer((socket) => socket.end('host\n'));
  await new Promise<void>((resolve) => hostService.listen(0, '0.0.0.0', resolve));
  hostPort = (hostService.address() as { port: number }).port;
  ({ runtime, directory } = await startTestRuntime({
    prefix: 'airlock-network-',
    sandboxUid: testSandboxUid(),
    pool: { maxSlots: 0, maxSlotsPerKey: 0, maxConcurrentRefills: 1, idleMs: 60_000 },
    network: { subnet: '10.213', megabitsPerCpu: 200, dnsUpstream: [topology.dns] },
  }));
}, 120_000);

afterAll(async () => {
  await runtime?.close();
  await rm(directory, { recursive: true, force: true });
  hostService?.close();
  await topology?.remove();
});

/** What a sandbox sees when it connects to each target: the first line answered, or the error, and how long it took. */
const PROBE = `
import json, socket, sys, time
results = {}
for target in json.loads(sys.argv[1]):
    host, port = target.rsplit(":", 1)
    started = time.monotonic()
    try:
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            answer = connection.recv(200).decode().split("\\r\\n\\r\\n")[-1].strip()
    except socket.gaierror as error:
        answer = "no address: " + error.strerror
    except OSError as error:
        answer = "timeout" if isinstance(error, socket.timeout) else __import__("errno").errorcode.get(error.errno, str(error))
    results[target] = [answer, round(time.monotonic() - started, 2)]
print(json.dumps(results))
`;

async function probe(network: SandboxNetworkMode, targets: string[]): Promise<Record<string, [string, number]>> {
  const { sandbox } = await runtime.acquire({
    image: 'default',
    language: 'bash',
    limits: { cpus: 1, memoryBytes: 512 << 20, pids: 128, tmpBytes: 64 << 20, homeBytes: 64 << 20 },
    network,
  });
  const outcome = await sandbox.run({
    code: `python3 -c '${PROBE.replace(/'/g, "'\\''")}' '${JSON.stringify(targets)}'`,
    env: {},
    timeoutMs: 60_000,
  });
  expect(outcome.stderr).toBe('');
  return JSON.parse(outcome.stdout) as Record<string, [string, number]>;
}

describe('sandboxes with network', () => {
  it('unrestricted reaches the internet host; private, metadata, host addresses and port 25 are refused at once', async () => {
    // The host itself reaches every one of them: what stops the sandbox is Airlock's rules.
    expect(execFileSync('curl', ['-s', '-m', '5', `http://${topology.privateAddress}/`]).toString()).toBe('private');
    const gateway = '10.213.0.1';
    const refused = [
      `${topology.privateAddress}:80`,
      `${topology.metadataAddress}:80`,
      `${topology.internet}:25`,
      `${topology.internetGateway}:${hostPort}`,
      `${gateway}:${hostPort}`,
      `127.0.0.1:${hostPort}`,
    ];
    const results = await probe('unrestricted', [`${topology.internet}:8080`, ...refused]);
    expect(results[`${topology.internet}:8080`]?.[0]).toBe('internet');
    for (const target of refused) {
      const [answer, seconds] = results[target]!;
      expect(answer, target).toMatch(/^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EACCES)$/);
      expect(seconds, target).toBeLessThan(1);
    }
  });

  it('unrestricted resolves names, a CNAME too, through the resolver on the host', async () => {
    const results = await probe('unrestricted', ['web.test.example:8080', 'alias.test.example:8080', 'missing.test.example:8080']);
    expect(results['web.test.example:8080']?.[0]).toBe('internet');
    expect(results['alias.test.example:8080']?.[0]).toBe('internet');
    expect(results['missing.test.example:8080']?.[0]).toBe('no address: Name or service not known');
  });

  it('shapes the link to 200 Mbit/s per core, both ways, within 10%', async () => {
    const { sandbox } = await runtime.acquire({
      image: 'default',
      language: 'python',
      limits: { cpus: 1, memoryBytes: 512 << 20, pids: 128, tmpBytes: 64 << 20, homeBytes: 64 << 20 },
      network: 'unrestricted',
    });
    const size = 50 * 1024 * 1024;
    const code = [
      'import socket, time',
      `host, size = "${topology.internet}", ${size}`,
      'def rate(received, started): return round(received * 8 / (time.monotonic() - started) / 1e6)',
      'with socket.create_connection((host, 8080)) as connection:',
      '    connection.sendall(b"GET /bytes/%d HTTP/1.0\\r\\n\\r\\n" % size)',
      '    received, started = 0, None',
      '    while (data := connection.recv(1 << 20)):',
      '        started = started or time.monotonic()',
      '        received += len(data)',
      '    print("down", rate(received - 64, started))',
      'with socket.create_connection((host, 8080)) as connection:',
      '    connection.sendall(b"PUT /sink HTTP/1.0\\r\\n")',
      '    chunk, sent, started = b"y" * 65536, 0, time.monotonic()',
      '    while sent < size:',
      '        connection.sendall(chunk)',
      '        sent += len(chunk)',
      '    connection.shutdown(socket.SHUT_WR)',
      '    connection.recv(100)',
      '    print("up", rate(sent, started))',
    ].join('\n');
    const outcome = await sandbox.run({ code, env: {}, timeoutMs: 60_000 });
    expect(outcome.stderr).toBe('');
    const rates = Object.fromEntries(outcome.stdout.trim().split('\n').map((line) => line.split(' ')).map(([way, mbit]) => [way, Number(mbit)]));
    for (const way of ['down', 'up']) {
      expect(rates[way], way).toBeGreaterThanOrEqual(180);
      expect(rates[way], way).toBeLessThanOrEqual(220);
    }
  }, 60_000);

  it("a sandbox's receipt counts its own flows only: the next sandbox on its address starts with none", async () => {
    const limits = { cpus: 1, memoryBytes: 512 << 20, pids: 128, tmpBytes: 64 << 20, homeBytes: 64 << 20 };
    const first = (await runtime.acquire({ image: 'default', language: 'bash', limits, network: 'unrestricted' })).sandbox;
    const contacted = await first.run({ code: `exec 3<>/dev/tcp/${topology.internet}/8080; echo -e "GET / HTTP/1.0\\r\\n" >&3; cat <&3 >/dev/null`, env: {}, timeoutMs: 20_000 });
    expect(contacted.network).toEqual([expect.objectContaining({ address: topology.internet, port: 8080, verdict: 'allowed' })]);
    await first.destroy();
    const second = (await runtime.acquire({ image: 'default', language: 'bash', limits, network: 'unrestricted' })).sandbox;
    expect((await second.run({ code: 'true', env: {}, timeoutMs: 20_000 })).network).toEqual([]);
    const offline = (await runtime.acquire({ image: 'default', language: 'bash', limits })).sandbox;
    expect((await offline.run({ code: 'true', env: {}, timeoutMs: 20_000 })).network).toBeNull();
  });

  it('a sandbox cannot take its link down, change its address or send raw (spoofable) packets', async () => {
    const { sandbox } = await runtime.acquire({
      image: 'default',
      language: 'python',
      limits: { cpus: 1, memoryBytes: 512 << 20, pids: 128, tmpBytes: 64 << 20, homeBytes: 64 << 20 },
      network: 'unrestricted',
    });
    const code = [
      'import errno, fcntl, socket, struct',
      'control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      'def attempt(name, action):',
      '    try:',
      '        action()',
      '        print(name, "allowed")',
      '    except OSError as error:',
      '        print(name, errno.errorcode[error.errno])',
      'attempt("link down", lambda: fcntl.ioctl(control, 0x8914, struct.pack("16sH", b"eth0", 0)))',
      'attempt("address", lambda: fcntl.ioctl(control, 0x8916, struct.pack("16sH2s4s8s", b"eth0", socket.AF_INET, b"", socket.inet_aton("198.51.100.99"), b"")))',
      'attempt("raw socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))',
      'attempt("packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))',
    ].join('\n');
    const outcome = await sandbox.run({ code, env: {}, timeoutMs: 20_000 });
    expect(outcome.stdout).toBe('link down EPERM\naddress EPERM\nraw socket EPERM\npacket socket EPERM\n');
  });

  it('a sandbox cannot reach another one, even one listening on every address: refused at once', async () => {
    const limits = { cpus: 1, memoryBytes: 512 << 20, pids: 128, tmpBytes: 64 << 20, homeBytes: 64 << 20 };
    const listener = (await runtime.acquire({ image: 'default', language: 'python', limits, network: 'unrestricted' })).sandbox;
    const prober = (await runtime.acquire({ image: 'default', language: 'bash', limits, network: 'unrestricted' })).sandbox;
    let announced: (address: string) => void;
    const address = new Promise<string>((resolve) => (announced = resolve));
    const listening = listener.run({
      code: [
        'import socket, sys',
        'server = socket.create_server(("0.0.0.0", 9000))',
        'probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); probe.connect(("198.51.100.10", 9))',
        'print(probe.getsockname()[0], flush=True)',
        'server.settimeout(4)',
        'try:',
        '    server.accept(); print("accepted")',
        'except socket.timeout:',
        '    print("nobody came")',
      ].join('\n'),
      env: {},
      timeoutMs: 30_000,
      onStdout: (chunk) => announced(chunk.toString().trim().split('\n')[0]!),
    });
    const target = await address;
    expect(target).toMatch(/^10\.213\./);
    const probed = await prober.run({ code: `timeout 5 bash -c 'echo > /dev/tcp/${target}/9000' 2>&1; echo "exit $?"`, env: {}, timeoutMs: 30_000 });
    expect(probed.stdout).toMatch(/Connection refused|No route to host/);
    expect(probed.stdout.trim().endsWith('exit 1')).toBe(true);
    expect((await listening).stdout).toBe(`${target}\nnobody came\n`);
    await Promise.all([listener.destroy(), prober.destroy()]);
  });

  it('without network a sandbox reaches nothing', async () => {
    const results = await probe('none', [`${topology.internet}:8080`]);
    expect(results[`${topology.internet}:8080`]?.[0]).toBe('ENETUNREACH');
  });

  it('closing the runtime leaves no namespace or link of its sandboxes', async () => {
    const { runtime: other, directory: otherDirectory } = await startTestRuntime({
      prefix: 'airlock-network-close-',
      sandboxUid: testSandboxUid(),
      pool: { maxSlots: 4, maxSlotsPerKey: 2, maxConcurrentRefills: 1, idleMs: 60_000 },
      network: { subnet: '10.214', megabitsPerCpu: 200, dnsUpstream: [topology.dns] },
    });
    try {
      const limits = { cpus: 1, memoryBytes: 256 << 20, pids: 64, tmpBytes: 16 << 20, homeBytes: 16 << 20 };
      const { sandbox } = await other.acquire({ image: 'default', language: 'bash', limits, network: 'unrestricted' });
      await sandbox.run({ code: 'true', env: {}, timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the pool refills a slot meanwhile
    } finally {
      await other.close();
      await rm(otherDirectory, { recursive: true, force: true });
    }
    const links = execFileSync('ip', ['-o', 'link']).toString();
    const namespaces = execFileSync('ip', ['netns', 'list']).toString();
    expect(links).not.toMatch(/alk[0-9a-f]{4}\d+/);
    expect(namespaces).not.toMatch(/^airlock-[0-9a-f]{4}-\d+/m);
  });
});
