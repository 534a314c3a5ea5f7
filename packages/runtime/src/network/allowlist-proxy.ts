import { alwaysBlockedRangeOf } from '@airlock/contracts';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { httpHost, MAX_NAME_BYTES, tlsServerName, type ConnectionName } from './connection-names.js';

/** One connection through the proxy: what the sandbox named, where the proxy took it, and what it carried. */
export interface ProxiedConnection {
  /** The TLS server name or HTTP Host the sandbox sent; null when it sent none. */
  name: string | null;
  /** The address the proxy connected to; for a refused connection, the one the sandbox chose. */
  address: string | null;
  port: number;
  /** Payload bytes relayed each way (the sandbox's first message included). */
  bytesOut: number;
  bytesIn: number;
  verdict: 'allowed' | 'blocked';
  rule: 'allowlist' | 'blocked_range' | 'host_address' | null;
}

export interface AllowlistProxyOptions {
  /** The slot's gateway: the proxy listens there on ports 80 and 443, where nftables redirects the sandbox's. */
  gateway: string;
  /** The sandbox's address: the only peer served. */
  sandbox: string;
  allowsName: (name: string) => boolean;
  /** The IPv4 addresses of a name, from the resolvers the sandbox's resolver asks. */
  resolve: (name: string) => Promise<string[]>;
  /** The address a redirected connection was sent to, by its source port; undefined when unknown. */
  originalDestination: (sourcePort: number) => Promise<string | undefined>;
}

/** How each port's first message names its destination. */
const NAME_READERS: Record<number, (bytes: Buffer) => ConnectionName> = { 80: httpHost, 443: tlsServerName };
export const PROXIED_PORTS = Object.keys(NAME_READERS).map(Number);
/** How long a sandbox has to name its destination, and the destination to accept the connection. */
const NAME_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** Connections a sandbox may hold open through the proxy at once, per port: each costs the server two sockets. */
const MAX_CONNECTIONS_PER_PORT = 256;

/**
 * The allowlist's check of HTTP and HTTPS (docs/decisions/0020-sandbox-network.md): the sandbox's connections to
 * ports 80 and 443 arrive here, and each is relayed only when the name it sends (TLS server name, HTTP Host) is on the
 * allowlist, to an address the proxy resolves for that name itself, never to the address the sandbox chose. A refused
 * HTTP request is answered 403 with the reason; a refused TLS connection is reset.
 */
export class AllowlistProxy {
  readonly #options: AllowlistProxyOptions;
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #connections: ProxiedConnection[] = [];
  readonly #sourcePorts = new Set<number>();

  constructor(options: AllowlistProxyOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    for (const port of PROXIED_PORTS) {
      const server = createServer({ allowHalfOpen: true }, (socket) => void this.#serve(socket, port));
      server.maxConnections = MAX_CONNECTIONS_PER_PORT;
      this.#servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.#options.gateway, () => resolve());
      });
    }
  }

  /** The sandbox's source ports of the connections so far. */
  sourcePorts(): number[] {
    return [...this.#sourcePorts];
  }

  /** The connections so far, their counts current. */
  connections(): ProxiedConnection[] {
    return this.#connections.map((connection) => ({ ...connection }));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(this.#servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  async #serve(socket: Socket, port: number): Promise<void> {
    this.#track(socket);
    if (socket.remoteAddress !== this.#options.sandbox) return void socket.destroy();
    if (socket.remotePort !== undefined) this.#sourcePorts.add(socket.remotePort);
    const first = await readName(socket, NAME_READERS[port]!);
    if (!first) return void socket.destroy();
    const connection: ProxiedConnection = {
      name: first.name,
      address: null,
      port,
      bytesOut: first.bytes.length,
      bytesIn: 0,
      verdict: 'blocked',
      rule: 'allowlist',
    };
    this.#connections.push(connection);
    if (first.name === null || !this.#options.allowsName(first.name)) return this.#refuse(socket, connection);
    const addresses = await this.#options.resolve(first.name).catch(() => []);
    if (addresses.length === 0) {
      // Allowed, but the name has no address: the connection fails as it would without the proxy.
      Object.assign(connection, { verdict: 'allowed', rule: null });
      return void socket.resetAndDestroy();
    }
    const hostAddresses = localAddresses();
    const target = addresses.find((address) => !alwaysBlockedRangeOf(address) && !hostAddresses.has(address));
    if (target === undefined) {
      connection.rule = addresses.some((address) => hostAddresses.has(address)) ? 'host_address' : 'blocked_range';
      return this.#refuse(socket, connection);
    }
    connection.verdict = 'allowed';
    connection.rule = null;
    connection.address = target;
    const upstream = connect({ host: target, port, allowHalfOpen: true, timeout: CONNECT_TIMEOUT_MS });
    this.#track(upstream);
    upstream.once('timeout', () => upstream.destroy());
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      upstream.write(first.bytes);
      socket.on('data', (chunk: Buffer) => (connection.bytesOut += chunk.length));
      upstream.on('data', (chunk: Buffer) => (connection.bytesIn += chunk.length));
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.once('close', () => socket.destroy());
    socket.once('close', () => upstream.destroy());
  }

  async #refuse(socket: Socket, connection: ProxiedConnection): Promise<void> {
    connection.address = (await this.#options.originalDestination(socket.remotePort ?? 0).catch(() => undefined)) ?? null;
    if (connection.port !== 80) return void socket.resetAndDestroy();
    const reason =
      connection.rule === 'allowlist'
        ? `${connection.name ?? 'a request without a Host header'} is not on this sandbox's network allowlist`
        : `${connection.name} resolves only to addresses sandboxes never reach`;
    const body = `Airlock refused this request: ${reason}.\n`;
    socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  }
}

/** Reads from `socket` until `reader` finds its name or none; undefined when the socket ends or stalls first. */
function readName(socket: Socket, reader: (bytes: Buffer) => ConnectionName): Promise<{ name: string | null; bytes: Buffer } | undefined> {
  return new Promise((resolve) => {
    let bytes = Buffer.alloc(0);
    let done = false;
    const finish = (result: { name: string | null; bytes: Buffer } | undefined) => {
      if (done) return;
      done = true;
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      const found = reader(bytes);
      if (found === 'incomplete' && bytes.length < MAX_NAME_BYTES) return;
      finish({ name: typeof found === 'object' ? found.name : null, bytes });
    };
    socket.on('data', onData);
    socket.once('end', () => finish(undefined));
    socket.once('close', () => finish(undefined));
    socket.setTimeout(NAME_TIMEOUT_MS, () => finish(undefined));
  });
}

/** Every address of this host's interfaces. */
function localAddresses(): Set<string> {
  return new Set(Object.values(networkInterfaces()).flatMap((entries) => (entries ?? []).map((entry) => entry.address)));
}
