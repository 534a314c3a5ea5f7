import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitForLock } from '../../packages/process-lock/src/index.js';

/**
 * Test hosts in network namespaces this test creates, each linked to the host's namespace by a veth pair with a route
 * to it there: an "internet" host on a documentation address (198.51.100.0/24: this machine reaches its package
 * registries through 203.0.113.0/24, so a route for that range would cut them off), and a "private" host answering on
 * a private address and as the cloud metadata service. Traffic goes only to them.
 */
export interface NetworkTopology {
  /**
   * The internet host: HTTP on 80 and 8080, HTTPS on 443 (a certificate signed by `caCertificate`, for the test zone's
   * names that lead here and for this address) and a listener on 25 (SMTP). All answer "internet", and path `/host`
   * with the request's Host header.
   */
  internet: string;
  /** The PEM certificate of the test CA, made for this topology, that signed the internet host's HTTPS certificate. */
  caCertificate: string;
  /** The authoritative DNS server of `test.example` (test-dns-server.mjs), on the internet host. */
  dns: string;
  /** A package index (PEP 503) on the internet host serving one wheel, `airlock-probe` 1.0 (`airlock_probe.VALUE`). */
  packageIndex: string;
  /** The host side of the internet host's link: an address of this host. */
  internetGateway: string;
  /** The private host: HTTP on 80 answering "private" at 10.77.0.10 and 169.254.169.254. */
  privateAddress: string;
  metadataAddress: string;
  remove(): Promise<void>;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/**
 * One topology at a time on the machine: test files run in parallel, and every topology uses the same addresses. The
 * lock is held until remove().
 */
const TOPOLOGY_LOCK = '/run/lock/airlock-test-network-topology';

export async function createNetworkTopology(): Promise<NetworkTopology> {
  const unlock = await waitForLock(TOPOLOGY_LOCK, () => undefined);
  const tag = randomBytes(2).toString('hex');
  const hosts: Array<{ namespace: string; link: string; servers: ChildProcess[] }> = [];
  const directories: string[] = [];
  let caCertificate: string;
  const addHost = (name: string, hostSide: string, inside: string[], routes: string[], ports: number[], answer: string) => {
    const namespace = `airlock-test-${tag}-${name}`;
    const link = `att${tag}${name.slice(0, 3)}`;
    ip('netns', 'add', namespace);
    const host = { namespace, link, servers: [] as ChildProcess[] };
    hosts.push(host);
    ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace);
    ip('address', 'add', hostSide, 'dev', link);
    ip('link', 'set', link, 'up');
    for (const address of inside) ip('-n', namespace, 'address', 'add', address, 'dev', 'eth0');
    ip('-n', namespace, 'link', 'set', 'eth0', 'up');
    ip('-n', namespace, 'link', 'set', 'lo', 'up');
    ip('-n', namespace, 'route', 'add', 'default', 'via', hostSide.split('/')[0]!);
    for (const route of routes) ip('route', 'add', route, 'dev', link);
    for (const port of ports) host.servers.push(serveAnswer({ namespace, answer, port }));
  };
  try {
    addHost('internet', '198.51.100.1/24', ['198.51.100.10/24', '198.51.100.53/24'], [], [80, 8080, 25], 'internet');
    const dnsServer = fileURLToPath(new URL('./test-dns-server.mjs', import.meta.url));
    hosts[0]!.servers.push(
      spawn('ip', ['netns', 'exec', hosts[0]!.namespace, process.execPath, dnsServer, '198.51.100.53'], { stdio: 'ignore' }),
    );
    const certificates = makeCertificates();
    directories.push(certificates);
    caCertificate = readFileSync(join(certificates, 'ca.pem'), 'utf8');
    hosts[0]!.servers.push(serveAnswer({ namespace: hosts[0]!.namespace, answer: 'internet', port: 443, tlsDirectory: certificates }));
    const packages = makePackageIndex();
    directories.push(packages);
    hosts[0]!.servers.push(
      spawn('ip', ['netns', 'exec', hosts[0]!.namespace, 'python3', '-m', 'http.server', '8081', '--bind', '198.51.100.10', '--directory', packages], {
        stdio: 'ignore',
      }),
    );
    addHost('private', '10.77.0.1/24', ['10.77.0.10/24', '169.254.169.254/32'], ['169.254.169.254/32'], [80], 'private');
    const internetListeners = [80, 443, 8080, 25, 8081].map((port) => `198.51.100.10:${port}`);
    for (const target of [...internetListeners, '198.51.100.53:53', '10.77.0.10:80', '169.254.169.254:80']) {
      await waitForListener(target);
    }
  } catch (error) {
    removeTopology(hosts, directories);
    await unlock();
    throw error;
  }
  return {
    internet: '198.51.100.10',
    caCertificate,
    dns: '198.51.100.53',
    internetGateway: '198.51.100.1',
    privateAddress: '10.77.0.10',
    metadataAddress: '169.254.169.254',
    packageIndex: 'http://198.51.100.10:8081/simple/',
    remove: async () => {
      removeTopology(hosts, directories);
      await unlock();
    },
  };
}

/**
 * The answering server: GET /bytes/N answers N bytes; PUT /sink reads the body and answers how many bytes came;
 * GET /host answers the request's Host header; anything else the answer. Arguments: ANSWER PORT [TLS_DIRECTORY], with
 * TLS (server.pem and server.key of that directory) when a directory is given.
 */
const ANSWER_SERVER = [
  'import socketserver, ssl, sys',
  'answer, port = sys.argv[1].encode(), int(sys.argv[2])',
  'class Answer(socketserver.StreamRequestHandler):',
  '    def handle(self):',
  '        request = self.rfile.readline().split()',
  '        path = request[1].decode() if len(request) > 1 else "/"',
  '        if path.startswith("/bytes/"):',
  '            size = int(path[7:])',
  '            self.wfile.write(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % size)',
  '            chunk = b"x" * 65536',
  '            while size > 0:',
  '                self.wfile.write(chunk[:size])',
  '                size -= len(chunk)',
  '            return',
  '        if path == "/sink":',
  '            received = 0',
  '            while (data := self.rfile.read(65536)):',
  '                received += len(data)',
  '            self.wfile.write(b"HTTP/1.0 200 OK\\r\\n\\r\\n%d" % received)',
  '            return',
  '        body = answer',
  '        if path == "/host":',
  '            body = b""',
  '            while (line := self.rfile.readline().strip()):',
  '                name, _, value = line.partition(b":")',
  '                if name.strip().lower() == b"host":',
  '                    body = value.strip()',
  '        self.wfile.write(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(body), body))',
  'class TlsServer(socketserver.ThreadingTCPServer):',
  '    def finish_request(self, request, client_address):',
  '        with context.wrap_socket(request, server_side=True) as connection:',
  '            self.RequestHandlerClass(connection, client_address, self)',
  'socketserver.ThreadingTCPServer.allow_reuse_address = True',
  'server = socketserver.ThreadingTCPServer',
  'if len(sys.argv) > 3:',
  '    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)',
  '    context.load_cert_chain(f"{sys.argv[3]}/server.pem", f"{sys.argv[3]}/server.key")',
  '    server = TlsServer',
  'server(("0.0.0.0", port), Answer).serve_forever()',
].join('\n');

function serveAnswer(options: { namespace: string; answer: string; port: number; tlsDirectory?: string }): ChildProcess {
  const tls = options.tlsDirectory ? [options.tlsDirectory] : [];
  return spawn('ip', ['netns', 'exec', options.namespace, 'python3', '-c', ANSWER_SERVER, options.answer, String(options.port), ...tls], {
    stdio: 'ignore',
  });
}

/** The names the internet host's HTTPS certificate is for: the test zone's names that lead to it, and its address. */
const CERTIFICATE_NAMES = [
  'DNS:web.test.example',
  'DNS:alias.test.example',
  'DNS:other.test.example',
  'DNS:cdn.test.example',
  'DNS:*.wild.test.example',
  'IP:198.51.100.10',
];

/**
 * A directory with a test CA (ca.pem, ca.key) and a server certificate it signed for CERTIFICATE_NAMES (server.pem,
 * server.key), made with openssl.
 */
function makeCertificates(): string {
  const directory = mkdtempSync(join(tmpdir(), 'airlock-test-tls-'));
  const configuration = join(directory, 'openssl.cnf');
  writeFileSync(
    configuration,
    [
      '[req]',
      'distinguished_name = name',
      '[name]',
      '[ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '[server]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      `subjectAltName = ${CERTIFICATE_NAMES.join(', ')}`,
      '',
    ].join('\n'),
  );
  const file = (name: string) => join(directory, name);
  // Each certificate's extensions are the configuration's section of its name; the server's is signed by the CA.
  const certify = (name: string, subject: string, signer: string[]) => {
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc', '-keyout', file(`${name}.key`)];
    const certificate = ['-config', configuration, '-extensions', name, '-subj', subject, '-days', '2', '-out', file(`${name}.pem`)];
    execFileSync('openssl', ['req', '-x509', ...key, ...certificate, ...signer], { stdio: 'pipe' });
  };
  try {
    certify('ca', '/CN=Airlock test CA', []);
    certify('server', '/CN=web.test.example', ['-CA', file('ca.pem'), '-CAkey', file('ca.key')]);
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
  return directory;
}

/** A directory with a PEP 503 index of one wheel, airlock-probe 1.0, built with python's zipfile. */
function makePackageIndex(): string {
  const directory = mkdtempSync(join(tmpdir(), 'airlock-test-index-'));
  const build = [
    'import os, sys, zipfile',
    'root = sys.argv[1]',
    'os.makedirs(f"{root}/simple/airlock-probe")',
    'os.makedirs(f"{root}/packages")',
    'name = "airlock_probe-1.0-py3-none-any.whl"',
    'files = {',
    '    "airlock_probe/__init__.py": "VALUE = 42\\n",',
    '    "airlock_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: airlock-probe\\nVersion: 1.0\\n",',
    '    "airlock_probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",',
    '}',
    'files["airlock_probe-1.0.dist-info/RECORD"] = "".join(f"{path},,\\n" for path in files) + "airlock_probe-1.0.dist-info/RECORD,,\\n"',
    'with zipfile.ZipFile(f"{root}/packages/{name}", "w") as wheel:',
    '    for path, text in files.items(): wheel.writestr(path, text)',
    'open(f"{root}/simple/airlock-probe/index.html", "w").write(f\'<a href="../../packages/{name}">{name}</a>\')',
  ].join('\n');
  execFileSync('python3', ['-c', build, directory]);
  chmodSync(directory, 0o755);
  return directory;
}

/** Resolves once something accepts TCP connections at `target` (host:port), from this host. */
async function waitForListener(target: string): Promise<void> {
  const [host, port] = target.split(':');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: host!, port: Number(port) }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (connected) return;
    if (Date.now() > deadline) throw new Error(`no test server answers at ${target}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Stops the hosts' servers, deletes their namespaces and removes the topology's directories. */
function removeTopology(hosts: Array<{ namespace: string; servers: ChildProcess[] }>, directories: string[]): void {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  for (const host of hosts) {
    for (const server of host.servers) server.kill('SIGKILL');
    try {
      ip('netns', 'delete', host.namespace); // takes the veth pair, and the routes through it, along
    } catch {
      // already gone
    }
  }
}
