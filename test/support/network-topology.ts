import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitForLock } from '../../packages/process-lock/src/index.js';

/**
 * Test hosts in network namespaces this test creates, each linked to the host's namespace by a veth pair, its /24 on
 * the host's side of the link: an "internet" host on documentation addresses (198.51.100.0/24: this machine reaches
 * its package registries through 203.0.113.0/24, so a route for that range would cut them off), and a "private" host
 * answering on a private address (10.77.0.0/24) and as the cloud metadata service. Traffic goes only to them.
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
  /**
   * The authoritative DNS server of `test.example` (test-dns-server.mjs), on the internet host; it also answers
   * `github.com` and `api.github.com` with `githubAddress`. Processes run in the hosts' namespaces (`ip netns exec`)
   * resolve names through it alone.
   */
  dns: string;
  /** A package index (PEP 503) on the internet host serving one wheel, `airlock-probe` 1.0 (`airlock_probe.VALUE`). */
  packageIndex: string;
  /** The host side of the internet host's link: an address of this host. */
  internetGateway: string;
  /** The private host: HTTP on 80 answering "private" at 10.77.0.10 and 169.254.169.254. */
  privateAddress: string;
  metadataAddress: string;
  /**
   * The hosts' network namespaces, for servers a test starts there (`ip netns exec <namespace> ...`, see
   * connector-servers.ts). Every process left in them is killed by remove().
   */
  namespaces: { internet: string; private: string };
  /**
   * An address on each host where nothing listens, for a test's own servers (databases, ...): 198.51.100.20 on the
   * internet host, 10.77.0.20 on the private host. This host reaches both through the links.
   */
  serverAddresses: { internet: string; private: string };
  /**
   * An address on the internet host where nothing listens, the one the test DNS server gives `github.com` and
   * `api.github.com`: for the fake GitHub (fake-github.ts).
   */
  githubAddress: string;
  /** A new certificate signed by the test CA, for `names` (DNS names or IP addresses), with its key (PEM). */
  issueCertificate(names: string[]): { certificate: string; key: string };
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

const INTERNET = '198.51.100.10';
/** The test DNS server's address; test-dns-server.mjs answers github.com with GITHUB. */
const DNS = '198.51.100.53';
const GITHUB = '198.51.100.30';
const SERVER_ADDRESSES = { internet: '198.51.100.20', private: '10.77.0.20' };
const PRIVATE = '10.77.0.10';
const METADATA = '169.254.169.254';

export async function createNetworkTopology(): Promise<NetworkTopology> {
  const unlock = await waitForLock(TOPOLOGY_LOCK, () => undefined);
  const tag = randomBytes(2).toString('hex');
  const hosts: Array<{ namespace: string; link: string; servers: ChildProcess[] }> = [];
  const directories: string[] = [];
  let certificates: string;
  let caCertificate: string;
  /** Adds a host with addresses `inside`, and the answering server on each of `listeners` (address and port). */
  const addHost = (name: string, hostSide: string, inside: string[], routes: string[], listeners: Array<[string, number]>, answer: string) => {
    const namespace = `airlock-test-${tag}-${name}`;
    const link = `att${tag}${name.slice(0, 3)}`;
    ip('netns', 'add', namespace);
    const host = { namespace, link, servers: [] as ChildProcess[] };
    hosts.push(host);
    // `ip netns exec` puts /etc/netns/<namespace>/resolv.conf in place of /etc/resolv.conf: names looked up in the
    // hosts' namespaces go to the test DNS server alone.
    mkdirSync(`/etc/netns/${namespace}`, { recursive: true });
    writeFileSync(`/etc/netns/${namespace}/resolv.conf`, `nameserver ${DNS}\n`);
    ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace);
    ip('address', 'add', hostSide, 'dev', link);
    ip('link', 'set', link, 'up');
    for (const address of inside) ip('-n', namespace, 'address', 'add', address, 'dev', 'eth0');
    ip('-n', namespace, 'link', 'set', 'eth0', 'up');
    ip('-n', namespace, 'link', 'set', 'lo', 'up');
    ip('-n', namespace, 'route', 'add', 'default', 'via', hostSide.split('/')[0]!);
    for (const route of routes) ip('route', 'add', route, 'dev', link);
    for (const [address, port] of listeners) host.servers.push(serveAnswer({ namespace, answer, address, port }));
  };
  try {
    const internetAddresses = [INTERNET, DNS, SERVER_ADDRESSES.internet, GITHUB].map((address) => `${address}/24`);
    addHost('internet', '198.51.100.1/24', internetAddresses, [], [[INTERNET, 80], [INTERNET, 8080], [INTERNET, 25]], 'internet');
    const internetNamespace = hosts[0]!.namespace;
    const dnsServer = fileURLToPath(new URL('./test-dns-server.mjs', import.meta.url));
    hosts[0]!.servers.push(spawn('ip', ['netns', 'exec', internetNamespace, process.execPath, dnsServer, DNS], { stdio: 'ignore' }));
    certificates = makeCertificates();
    directories.push(certificates);
    caCertificate = readFileSync(join(certificates, 'ca.pem'), 'utf8');
    hosts[0]!.servers.push(serveAnswer({ namespace: internetNamespace, answer: 'internet', address: INTERNET, port: 443, tlsDirectory: certificates }));
    const packages = makePackageIndex();
    directories.push(packages);
    hosts[0]!.servers.push(
      spawn('ip', ['netns', 'exec', internetNamespace, 'python3', '-m', 'http.server', '8081', '--bind', INTERNET, '--directory', packages], {
        stdio: 'ignore',
      }),
    );
    const privateAddresses = [`${PRIVATE}/24`, `${SERVER_ADDRESSES.private}/24`, `${METADATA}/32`];
    addHost('private', '10.77.0.1/24', privateAddresses, [`${METADATA}/32`], [[PRIVATE, 80], [METADATA, 80]], 'private');
    const internetListeners = [80, 443, 8080, 25, 8081].map((port) => `${INTERNET}:${port}`);
    for (const target of [...internetListeners, `${DNS}:53`, `${PRIVATE}:80`, `${METADATA}:80`]) {
      await waitForListener(target);
    }
  } catch (error) {
    removeTopology(hosts, directories);
    await unlock();
    throw error;
  }
  return {
    internet: INTERNET,
    caCertificate,
    dns: DNS,
    internetGateway: '198.51.100.1',
    privateAddress: PRIVATE,
    metadataAddress: METADATA,
    packageIndex: `http://${INTERNET}:8081/simple/`,
    namespaces: { internet: hosts[0]!.namespace, private: hosts[1]!.namespace },
    serverAddresses: { ...SERVER_ADDRESSES },
    githubAddress: GITHUB,
    issueCertificate: (names) => issueCertificate(certificates, names),
    remove: async () => {
      removeTopology(hosts, directories);
      await unlock();
    },
  };
}

/**
 * The answering server: GET /bytes/N answers N bytes; PUT /sink reads the body and answers how many bytes came;
 * GET /host answers the request's Host header; anything else the answer. Arguments: ANSWER ADDRESS PORT
 * [TLS_DIRECTORY], with TLS (server.pem and server.key of that directory) when a directory is given.
 */
const ANSWER_SERVER = [
  'import socketserver, ssl, sys',
  'answer, address, port = sys.argv[1].encode(), sys.argv[2], int(sys.argv[3])',
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
  'if len(sys.argv) > 4:',
  '    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)',
  '    context.load_cert_chain(f"{sys.argv[4]}/server.pem", f"{sys.argv[4]}/server.key")',
  '    server = TlsServer',
  'server((address, port), Answer).serve_forever()',
].join('\n');

/** The answering server on `address`:`port` alone, so that other servers of the host can use the port elsewhere. */
function serveAnswer(options: { namespace: string; answer: string; address: string; port: number; tlsDirectory?: string }): ChildProcess {
  const tls = options.tlsDirectory ? [options.tlsDirectory] : [];
  const args = [options.answer, options.address, String(options.port), ...tls];
  return spawn('ip', ['netns', 'exec', options.namespace, 'python3', '-c', ANSWER_SERVER, ...args], { stdio: 'ignore' });
}

/** The names the internet host's HTTPS certificate is for: the test zone's names that lead to it, and its address. */
const CERTIFICATE_NAMES = ['web.test.example', 'alias.test.example', 'other.test.example', 'cdn.test.example', '*.wild.test.example', INTERNET];

/**
 * A directory with a test CA (ca.pem, ca.key) and a server certificate it signed for CERTIFICATE_NAMES (server.pem,
 * server.key), made with openssl.
 */
function makeCertificates(): string {
  const directory = mkdtempSync(join(tmpdir(), 'airlock-test-tls-'));
  try {
    certify(directory, 'ca');
    certify(directory, 'server', CERTIFICATE_NAMES);
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
  return directory;
}

let issuedCertificates = 0;

/** A new certificate of the CA in `directory` for `names`, with its key. */
function issueCertificate(directory: string, names: string[]): { certificate: string; key: string } {
  issuedCertificates += 1;
  const name = `issued-${issuedCertificates}`;
  certify(directory, name, names);
  return { certificate: readFileSync(join(directory, `${name}.pem`), 'utf8'), key: readFileSync(join(directory, `${name}.key`), 'utf8') };
}

/**
 * Makes `<name>.pem` and `<name>.key` in `directory` with openssl: without `names` a self-signed CA certificate, with
 * them a server certificate for them (DNS names or IP addresses; the first is its common name) signed by the CA there.
 */
function certify(directory: string, name: string, names?: string[]): void {
  const file = (suffix: string) => join(directory, `${name}.${suffix}`);
  const extensions = names
    ? [
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        'extendedKeyUsage = serverAuth',
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        `subjectAltName = ${names.map((entry) => `${isIP(entry) ? 'IP' : 'DNS'}:${entry}`).join(', ')}`,
      ]
    : ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash'];
  writeFileSync(file('cnf'), ['[req]', 'distinguished_name = name', '[name]', '[extensions]', ...extensions, ''].join('\n'));
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc', '-keyout', file('key')];
  const subject = names ? `/CN=${names[0]}` : '/CN=Airlock test CA';
  const signer = names ? ['-CA', join(directory, 'ca.pem'), '-CAkey', join(directory, 'ca.key')] : [];
  const certificate = ['-config', file('cnf'), '-extensions', 'extensions', '-subj', subject, '-days', '2', '-out', file('pem')];
  execFileSync('openssl', ['req', '-x509', ...key, ...certificate, ...signer], { stdio: 'pipe' });
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
  while (!(await acceptsConnections(host!, Number(port)))) {
    if (Date.now() > deadline) throw new Error(`no test server answers at ${target}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Whether something accepts a TCP connection at `host`:`port` from this host now; false after 500 ms without an answer
 * (an unassigned address of a link's subnet: the kernel would retry its neighbour discovery for 3 s).
 */
export function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * Stops the hosts' servers and every other process in their namespaces (those a test started there too), deletes the
 * namespaces and their /etc/netns directories, and removes the topology's directories.
 */
function removeTopology(hosts: Array<{ namespace: string; servers: ChildProcess[] }>, directories: string[]): void {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  for (const host of hosts) {
    for (const server of host.servers) server.kill('SIGKILL');
    killProcessesIn(host.namespace);
    try {
      ip('netns', 'delete', host.namespace); // takes the veth pair, and the routes through it, along
    } catch {
      // already gone
    }
    rmSync(`/etc/netns/${host.namespace}`, { recursive: true, force: true });
  }
}

/** SIGKILLs every process in `namespace`: a namespace with processes left outlives `ip netns delete`, link and all. */
function killProcessesIn(namespace: string): void {
  let listed = '';
  try {
    listed = execFileSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return; // no such namespace
  }
  for (const pid of listed.split('\n').filter((line) => /^\d+$/.test(line))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}
