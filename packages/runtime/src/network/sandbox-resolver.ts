import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { connect, createServer, isIPv4, type Server, type Socket } from 'node:net';
import dnsPacket, { type Packet } from 'dns-packet';

/** One question a sandbox asked, and what it was answered. */
export interface DnsQuery {
  name: string;
  type: string;
  /** Addresses of A (and AAAA) answers; CNAME targets as names. */
  answers: string[];
  /** `refused`: the policy refused the name; `failed`: no upstream answered. */
  verdict: 'answered' | 'refused' | 'failed';
  transport: 'udp' | 'tcp';
}

/**
 * Which names a sandbox may resolve (every name when absent), and what must happen to the addresses of an answer
 * before the sandbox receives it.
 */
export interface NamePolicy {
  allows(name: string): boolean;
  beforeAnswer(name: string, addresses: string[]): Promise<void>;
}

export interface SandboxResolverOptions {
  /** The host address it listens on (port 53, UDP and TCP), reachable from every sandbox link. */
  address: string;
  /** Resolvers asked in turn, `address` or `address:port`. */
  upstream: string[];
}

/** How long an upstream resolver has to answer before the next is asked. */
const UPSTREAM_TIMEOUT_MS = 2_000;
/** DNS messages over TCP are at most this long (their length prefix is 16 bits). */
const MAX_TCP_MESSAGE = 65_535;

/**
 * The DNS resolver of sandboxes with network (docs/decisions/0020-sandbox-network.md): it answers their queries by
 * asking the upstream resolvers, refuses names the sandbox's policy does not allow, and records every question per
 * sandbox address, for the network receipt.
 */
export class SandboxResolver {
  readonly #options: SandboxResolverOptions;
  readonly #sandboxes = new Map<string, { policy?: NamePolicy; queries: DnsQuery[] }>();
  #udp: UdpSocket | undefined;
  #tcp: Server | undefined;

  constructor(options: SandboxResolverOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const udp = createSocket('udp4');
    udp.on('message', (message, remote) => {
      void this.#answer(message, remote.address, 'udp').then((answer) => answer && udp.send(answer, remote.port, remote.address));
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(53, this.#options.address, () => resolve());
    });
    this.#udp = udp;
    const tcp = createServer((socket) => this.#serveTcp(socket));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(53, this.#options.address, () => resolve());
    });
    this.#tcp = tcp;
  }

  /** Starts answering the sandbox at `address` and recording its questions. */
  admit(address: string): void {
    this.#sandboxes.set(address, { queries: [] });
  }

  /** From now on answers the sandbox at `address` by `policy`. */
  restrict(address: string, policy: NamePolicy): void {
    const sandbox = this.#sandboxes.get(address);
    if (sandbox) sandbox.policy = policy;
  }

  /** Stops answering the sandbox at `address`; returns the questions it asked. */
  dismiss(address: string): DnsQuery[] {
    const sandbox = this.#sandboxes.get(address);
    this.#sandboxes.delete(address);
    return sandbox?.queries ?? [];
  }

  /** The questions the sandbox at `address` has asked so far. */
  queries(address: string): DnsQuery[] {
    return [...(this.#sandboxes.get(address)?.queries ?? [])];
  }

  async close(): Promise<void> {
    this.#udp?.close();
    this.#udp = undefined;
    const tcp = this.#tcp;
    this.#tcp = undefined;
    await new Promise<void>((resolve) => (tcp ? tcp.close(() => resolve()) : resolve()));
  }

  #serveTcp(socket: Socket): void {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + message.length);
        void this.#answer(message, socket.remoteAddress ?? '', 'tcp').then((answer) => {
          if (answer && !socket.destroyed) socket.write(Buffer.concat([lengthPrefix(answer.length), answer]));
        });
      }
      if (buffered.length > MAX_TCP_MESSAGE + 2) socket.destroy();
    });
  }

  /** The answer to one message from `source`, or undefined to send none (not a query, or an unknown source). */
  async #answer(message: Buffer, source: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const sandbox = this.#sandboxes.get(source.replace(/^::ffff:/, ''));
    if (!sandbox) return undefined;
    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined;
    }
    const question = query.questions?.[0];
    if (query.type !== 'query' || !question) return undefined;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const record = (verdict: DnsQuery['verdict'], answers: string[] = []) =>
      sandbox.queries.push({ name, type: question.type, answers, verdict, transport });
    if (sandbox.policy && !sandbox.policy.allows(name)) {
      record('refused');
      return reply(query, 'REFUSED');
    }
    for (const upstream of this.#options.upstream) {
      const answer = await (transport === 'udp' ? askUdp : askTcp)(message, upstream).catch(() => undefined);
      if (!answer) continue;
      let decoded: Packet;
      try {
        decoded = dnsPacket.decode(answer);
      } catch {
        continue;
      }
      if (decoded.id !== query.id) continue;
      const answers = (decoded.answers ?? []).flatMap((entry) => ('data' in entry && typeof entry.data === 'string' ? [entry.data] : []));
      record('answered', answers);
      await sandbox.policy?.beforeAnswer(name, answers.filter((data) => isIPv4(data)));
      return answer;
    }
    record('failed');
    return reply(query, 'SERVFAIL');
  }
}

/** The IPv4 addresses of `name` (its A records, after any CNAMEs), from the first of `upstream` that answers. */
export async function lookupAddresses(name: string, upstream: string[]): Promise<string[]> {
  const query = dnsPacket.encode({
    type: 'query',
    id: randomInt(65_536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name }],
  });
  for (const server of upstream) {
    const answer = await askUdp(query, server).catch(() => undefined);
    if (!answer) continue;
    const decoded = dnsPacket.decode(answer);
    return (decoded.answers ?? []).flatMap((entry) => (entry.type === 'A' ? [entry.data] : []));
  }
  throw new Error(`no resolver answered for ${name}`);
}

/** The nameservers of the host's /etc/resolv.conf. */
export async function hostNameservers(path = '/etc/resolv.conf'): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').flatMap((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1] ?? []);
}

/** DNS response codes in a message's flags (dns-packet encodes the code only as part of the flags). */
const RESPONSE_CODES = { SERVFAIL: 2, REFUSED: 5 } as const;

function reply(query: Packet, rcode: keyof typeof RESPONSE_CODES): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | RESPONSE_CODES[rcode],
    questions: query.questions,
  });
}

function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(length);
  return prefix;
}

function splitAddress(upstream: string): { host: string; port: number } {
  const [host = upstream, port = '53'] = upstream.split(':');
  return { host, port: Number(port) };
}

function askUdp(message: Buffer, upstream: string): Promise<Buffer> {
  const { host, port } = splitAddress(upstream);
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => finish(new Error('upstream timeout')), UPSTREAM_TIMEOUT_MS);
    const finish = (error?: Error, answer?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (answer) resolve(answer);
      else reject(error);
    };
    socket.on('error', (error) => finish(error));
    socket.on('message', (answer) => finish(undefined, answer));
    socket.send(message, port, host);
  });
}

function askTcp(message: Buffer, upstream: string): Promise<Buffer> {
  const { host, port } = splitAddress(upstream);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffered = Buffer.alloc(0);
    socket.setTimeout(UPSTREAM_TIMEOUT_MS, () => socket.destroy(new Error('upstream timeout')));
    socket.on('error', reject);
    socket.on('connect', () => socket.write(Buffer.concat([lengthPrefix(message.length), message])));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        socket.end();
        resolve(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
      }
    });
    socket.on('close', () => reject(new Error('upstream closed the connection')));
  });
}
