import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SandboxResolver, hostNameservers, type DnsQuery } from './sandbox-resolver.js';
import { SlotAllowlist } from './slot-allowlist.js';
import { SlotConnectors, type ConnectorEndpoint } from './slot-connectors.js';
import { hostRuleset, NFTABLES_TABLE, SYNC_SET } from './network-ruleset.js';
import { flowElements, networkReceipt, type FlowElement, type NetworkFlow } from './network-receipt.js';
import { NftablesSession } from './nftables-session.js';

const run = promisify(execFile);

/** The network of one sandbox slot: a namespace of its own, linked to the host by a veth pair. */
export interface SlotNetwork {
  /** The namespace's file, for setns(2) (`/run/netns/<name>`). */
  readonly namespacePath: string;
  /** The sandbox's address and its gateway (the host's end of the link). */
  readonly address: string;
  readonly gateway: string;
  /** A resolv.conf naming the sandbox's resolver (on its gateway), to bind at /etc/resolv.conf. */
  readonly resolvConf: string;
  /** The DNS questions the sandbox has asked so far. */
  queries(): DnsQuery[];
  /**
   * For a slot wired for `allowlist`: lets the sandbox reach the names and networks of `allowlist` (entries as
   * `@airlock/contracts` validates them), before its code runs and once; until then it reaches nothing.
   */
  restrict(allowlist: readonly string[]): Promise<void>;
  /**
   * Lets the sandbox reach its connectors' endpoints (TCP), whatever its mode and whatever the host's rules refuse
   * otherwise; names among them resolve through its resolver. Before its code runs, once.
   */
  openConnectors(endpoints: readonly ConnectorEndpoint[]): Promise<void>;
  /**
   * What the sandbox has contacted or tried so far, from the host's flow counters, its DNS questions and its
   * connections through the allowlist proxy.
   */
  receipt(): Promise<NetworkFlow[]>;
  /** Deletes the namespace (and with it the link), and forgets the address's connection tracking and questions. */
  release(): Promise<void>;
}

export interface SandboxNetworksOptions {
  /**
   * Names this server's namespaces (`airlock-<tag>-<n>`) and links (`alk<tag><n>`): 4 lowercase hex digits, so
   * servers sharing a host never touch each other's.
   */
  tag: string;
  /** The /16 sandboxes' links are numbered from, as its first two octets, e.g. `10.213`. */
  subnet: string;
  /** Shaping of each slot's link, both ways. */
  megabitsPerSecond: (cpus: number) => number;
  /** Resolvers the sandboxes' resolver asks (`address` or `address:port`). @default the host's /etc/resolv.conf */
  dnsUpstream?: string[];
  /** A directory for the slots' resolv.conf files, reachable by the sandbox user. */
  stateDirectory: string;
  /**
   * Runs a command (`argv[0]` an absolute path) as root, its output in the file `output`, and resolves with its exit
   * code. The runtime passes its spawner's: a fork of that small process, where a fork of the server would block its
   * event loop for milliseconds while requests wait. @default the server's own child_process
   */
  runCommand?: (argv: string[], output: string) => Promise<number | null>;
}

/** Absolute paths of the commands wiring uses (Debian's iproute2 and conntrack), as the spawner needs them. */
const IP = '/usr/sbin/ip';
const TC = '/usr/sbin/tc';
const CONNTRACK = '/usr/sbin/conntrack';

/** Host-side link names begin with this; the nftables rules match them (`alk*`). */
export const LINK_PREFIX = 'alk';
const NAMESPACE_PREFIX = 'airlock-';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
/** A /30 per slot: network, gateway, sandbox, broadcast. */
const SLOTS = 16_384;

/**
 * Network namespaces for sandboxes that have network (docs/decisions/0020-sandbox-network.md). `start` removes what a
 * killed earlier run of this server left; `wire` prepares one slot's namespace, off the request path, and on its
 * first call the host (forwarding and the nftables table).
 */
export class SandboxNetworks {
  readonly #options: SandboxNetworksOptions;
  readonly #free: number[] = [];
  #next = 0;
  #upstream: string[] = [];
  #hostPrepared: Promise<void> | undefined;
  /** Reads and clears the flow counters; started with the host's table. */
  readonly #nft = new NftablesSession(`list set inet ${NFTABLES_TABLE} ${SYNC_SET}`);

  constructor(options: SandboxNetworksOptions) {
    if (!/^[0-9a-f]{4}$/.test(options.tag)) throw new Error(`network tag must be 4 lowercase hex digits, got "${options.tag}"`);
    this.#options = options;
  }

  /** Removes what a killed earlier run of this server left (namespaces, and with them links). */
  async start(): Promise<void> {
    await this.#removeLeftovers();
  }

  /**
   * Prepares the host, on the first slot: turns IPv4 forwarding on if it is off, and then (or when an earlier run did
   * so: its table says it) lets the host forward sandboxes' traffic only. The table and forwarding stay after close():
   * the table keeps forwarding to sandboxes alone, and other servers on the host may use both. A server whose
   * sandboxes never have network leaves the host's network as it found it.
   */
  #prepareHost(): Promise<void> {
    this.#hostPrepared ??= this.#configureHost();
    this.#hostPrepared.catch(() => (this.#hostPrepared = undefined));
    return this.#hostPrepared;
  }

  async #configureHost(): Promise<void> {
    const forwarding = (await readFile(IP_FORWARD, 'utf8')).trim() === '1';
    if (!forwarding) await writeFile(IP_FORWARD, '1');
    const forwardSandboxesOnly = !forwarding || (await forwardsSandboxesOnly());
    const sandboxSubnet = `${this.#options.subnet}.0.0/16`;
    await nft(hostRuleset({ interfacePrefix: LINK_PREFIX, forwardSandboxesOnly, sandboxSubnet }));
    this.#nft.start();
    this.#upstream = this.#options.dnsUpstream ?? (await hostNameservers());
    await mkdir(join(this.#options.stateDirectory, 'resolv'), { recursive: true, mode: 0o711 });
  }

  /** Removes this server's namespaces and links. */
  async close(): Promise<void> {
    this.#nft.close();
    await this.#removeLeftovers();
  }

  /**
   * Wires a slot for `unrestricted` (the internet less what every mode refuses) or `allowlist` (its resolver, proxy
   * and host sets ready; nothing reachable until SlotNetwork.restrict gives the list).
   */
  async wire(cpus: number, mode: 'unrestricted' | 'allowlist'): Promise<SlotNetwork> {
    await this.#prepareHost();
    const index = this.#free.pop() ?? this.#next++;
    if (index >= SLOTS) throw new Error(`more than ${SLOTS} sandboxes with network at once`);
    const { tag, subnet } = this.#options;
    const name = `${NAMESPACE_PREFIX}${tag}-${index}`;
    const link = `${LINK_PREFIX}${tag}${index}`;
    const base = index * 4;
    const octets = `${subnet}.${Math.floor(base / 256)}`;
    const gateway = `${octets}.${(base % 256) + 1}`;
    const address = `${octets}.${(base % 256) + 2}`;
    const rate = `${this.#options.megabitsPerSecond(cpus)}mbit`;
    const shaping = ['root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '50ms'];
    // The slot's resolver listens on its gateway and answers its sandbox alone.
    const resolver = new SandboxResolver({ address: gateway, upstream: this.#upstream });
    const resolvConf = join(this.#options.stateDirectory, 'resolv', `${index}.conf`);
    const command = (argv: string[]) => this.#command(argv, `${index}`);
    const allowlist =
      mode === 'allowlist'
        ? new SlotAllowlist({
            address,
            gateway,
            upstream: this.#upstream,
            nft: (nftCommand) => this.#nft.run(nftCommand),
            originalDestination: (port) => this.#originalDestination(address, port),
          })
        : undefined;
    const connectors = new SlotConnectors({ address, nft: (nftCommand) => this.#nft.run(nftCommand) });
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await resolver.close();
      await allowlist?.forget().catch(() => undefined);
      await connectors.forget().catch(() => undefined);
      await rm(resolvConf, { force: true });
      // The link goes first, at once: a namespace's links go with it only later, when the kernel cleans it up, and
      // the next slot with this index makes a link of the same name.
      await this.#ipBatch(index, [], [`link delete ${link}`, `netns delete ${name}`]).catch(() => undefined);
      await command([CONNTRACK, '-D', '-s', address]).catch(() => undefined); // exits 1 when there was nothing
      await this.#forgetFlows(address).catch(() => undefined);
      this.#free.push(index);
    };
    try {
      await command([IP, 'netns', 'add', name]);
      await this.#ipBatch(index, [], [
        `link add ${link} type veth peer name eth0 netns ${name}`,
        `address add ${gateway}/30 dev ${link}`,
        `link set ${link} up`,
      ]);
      await this.#ipBatch(index, ['-n', name], [
        `address add ${address}/30 dev eth0`,
        'link set lo up',
        'link set eth0 up',
        `route add default via ${gateway}`,
      ]);
      // Inside the namespace: IPv6 off (sysctl through /proc/sys, which `ip netns exec` mounts for the namespace).
      await command([IP, 'netns', 'exec', name, '/usr/sbin/sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      await command([TC, 'qdisc', 'add', 'dev', link, ...shaping]);
      await command([IP, 'netns', 'exec', name, TC, 'qdisc', 'add', 'dev', 'eth0', ...shaping]);
      await resolver.start();
      resolver.admit(address);
      await allowlist?.prepare();
      // An allowlist slot's resolver answers only listed names (none until the list is bound) and its connectors'.
      resolver.restrict(address, {
        allows: (queried) => connectors.allows(queried) || (allowlist ? allowlist.allows(queried) : true),
        beforeAnswer: async (queried, addresses) => {
          await connectors.beforeAnswer(queried, addresses);
          if (allowlist?.allows(queried)) await allowlist.open(addresses);
        },
      });
      await writeFile(resolvConf, `nameserver ${gateway}\noptions edns0\n`, { mode: 0o644 });
    } catch (error) {
      await release();
      throw error;
    }
    return {
      namespacePath: `/run/netns/${name}`,
      address,
      gateway,
      resolvConf,
      queries: () => resolver.queries(address),
      restrict: async (entries) => {
        if (!allowlist) throw new Error('the slot network was wired for unrestricted, not allowlist');
        await allowlist.bind(entries);
      },
      openConnectors: (endpoints) => connectors.open(endpoints),
      receipt: async () =>
        networkReceipt(address, await this.#flows(), resolver.queries(address), allowlist?.connections() ?? [], (remote, port) =>
          connectors.connectorOf(remote, port),
        ),
      release,
    };
  }

  /** Runs a command as root through `runCommand`; rejects with its output when it fails. */
  async #command(argv: string[], label: string): Promise<void> {
    const output = join(this.#options.stateDirectory, 'resolv', `command-${label}.out`);
    await mkdir(join(output, '..'), { recursive: true, mode: 0o711 });
    await writeFile(output, '', { mode: 0o600 });
    try {
      const code = await (this.#options.runCommand ?? runWithOutputFile)(argv, output);
      if (code !== 0) {
        const said = (await readFile(output, 'utf8').catch(() => '')).trim();
        throw new Error(`${argv.join(' ')} exited with ${code}${said ? `: ${said}` : ''}`);
      }
    } finally {
      await rm(output, { force: true });
    }
  }

  /** `ip -batch` of `commands`, from a file (the spawner gives commands no standard input). */
  async #ipBatch(index: number, options: string[], commands: string[]): Promise<void> {
    const batch = join(this.#options.stateDirectory, 'resolv', `batch-${index}`);
    await writeFile(batch, `${commands.join('\n')}\n`, { mode: 0o600 });
    try {
      await this.#command([IP, ...options, '-batch', batch], `${index}`);
    } finally {
      await rm(batch, { force: true });
    }
  }

  /** Where a connection from the sandbox at `address`, source port `port`, was going before the proxy took it. */
  async #originalDestination(address: string, port: number): Promise<string | undefined> {
    const listing = await this.#nft.list(`list map inet ${NFTABLES_TABLE} proxied`);
    const objects = (listing as { nftables?: Array<{ map?: { elem?: unknown[] } }> }).nftables ?? [];
    for (const entry of objects.find((object) => object.map)?.map?.elem ?? []) {
      const [key, destination] = entry as [{ elem?: { val?: { concat?: unknown[] } } }, unknown];
      const [sandbox, sourcePort] = key.elem?.val?.concat ?? [];
      if (sandbox === address && sourcePort === port && typeof destination === 'string') return destination;
    }
    return undefined;
  }

  async #flows(): Promise<FlowElement[]> {
    return flowElements(await this.#nft.list(`list table inet ${NFTABLES_TABLE}`));
  }

  /** Deletes the flow counters of a sandbox address, so the next sandbox with it starts with none. */
  async #forgetFlows(address: string): Promise<void> {
    const bySet = new Map<string, string[]>();
    for (const element of await this.#flows()) {
      if (element.sandbox !== address) continue;
      const keys = bySet.get(element.set) ?? [];
      keys.push(`${element.sandbox} . ${element.remote} . ${element.protocol} . ${element.port}`);
      bySet.set(element.set, keys);
    }
    for (const [set, keys] of bySet) await this.#nft.run(`delete element inet ${NFTABLES_TABLE} ${set} { ${keys.join(', ')} }`);
  }

  async #removeLeftovers(): Promise<void> {
    await rm(join(this.#options.stateDirectory, 'resolv'), { recursive: true, force: true });
    // Without iproute2 no namespace can have been made.
    const listed = await run('ip', ['netns', 'list']).catch(() => undefined);
    const stdout = listed?.stdout ?? '';
    const mine = `${NAMESPACE_PREFIX}${this.#options.tag}-`;
    for (const line of stdout.split('\n')) {
      const name = line.split(' ')[0] ?? '';
      if (name.startsWith(mine)) await run('ip', ['netns', 'delete', name]).catch(() => undefined);
    }
  }
}

/** Whether the installed table forwards sandboxes' traffic only (its forward chain ends in a bare drop). */
async function forwardsSandboxesOnly(): Promise<boolean> {
  const listed = await run('nft', ['list', 'chain', 'inet', NFTABLES_TABLE, 'forward']).catch(() => undefined);
  return listed !== undefined && /^\s*drop\s*$/m.test(listed.stdout);
}

async function nft(script: string): Promise<void> {
  await runWithInput('nft', ['-f', '-'], script);
}

/** runCommand with this process's child_process: the command's output goes to the file `output`. */
async function runWithOutputFile(argv: string[], output: string): Promise<number | null> {
  const [program, ...args] = argv;
  const result = await run(program!, args).then(
    () => ({ code: 0, text: '' }),
    (error: { code?: number; stderr?: string; message: string }) => ({ code: typeof error.code === 'number' ? error.code : 1, text: error.stderr ?? error.message }),
  );
  if (result.text) await writeFile(output, result.text);
  return result.code;
}

function runWithInput(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve();
    });
    child.stdin?.end(input);
  });
}

