import type { ProxiedConnection } from './allowlist-proxy.js';
import { FLOW_SETS, type FlowSet } from './network-ruleset.js';
import type { DnsQuery } from './sandbox-resolver.js';

/** One destination a sandbox contacted or tried, over TCP or UDP (the execution record's `network`). */
export interface NetworkFlow {
  /**
   * The name the sandbox resolved to this address through its resolver, or sent to the allowlist proxy (TLS server
   * name, HTTP Host), if it did.
   */
  name: string | null;
  /** Null for a name the resolver refused: the sandbox never had an address to try. */
  address: string | null;
  port: number;
  protocol: 'tcp' | 'udp';
  /** Bytes of the packets each way; for a connection through the allowlist proxy, the payload it relayed. */
  bytesOut: number;
  bytesIn: number;
  /** Packets each way; null where nothing counts packets (the allowlist proxy relays a stream; refused names). */
  packetsOut: number | null;
  packetsIn: number | null;
  verdict: 'allowed' | 'blocked';
  /**
   * Which rule refused it: an address of the host, a private or reserved range, a blocked port, or the allowlist (a
   * name or address not on it, or QUIC); null when allowed.
   */
  rule: 'host_address' | 'blocked_range' | 'blocked_port' | 'allowlist' | null;
  /** The connector whose endpoint this is, for a flow its endpoint let through. */
  connector: string | null;
}

/** A counted element of a flow set: `sandbox . remote . protocol . remote port`. */
export interface FlowElement {
  set: FlowSet;
  sandbox: string;
  remote: string;
  protocol: string;
  port: number;
  packets: number;
  bytes: number;
}

const REFUSING_RULES: Partial<Record<FlowSet, NetworkFlow['rule']>> = {
  refused_host: 'host_address',
  refused_range: 'blocked_range',
  refused_port: 'blocked_port',
  refused_allowlist: 'allowlist',
};

/** Counts of an entry no packet counter saw. */
const UNCOUNTED = { bytesOut: 0, bytesIn: 0, packetsOut: null, packetsIn: null };

/** The flow sets' elements in `nft -j list table` output. */
export function flowElements(listing: unknown): FlowElement[] {
  const objects = (listing as { nftables?: unknown[] } | undefined)?.nftables ?? [];
  const elements: FlowElement[] = [];
  for (const object of objects) {
    const set = (object as { set?: { name?: string; elem?: unknown[] } }).set;
    if (!set?.name || !(FLOW_SETS as readonly string[]).includes(set.name)) continue;
    for (const entry of set.elem ?? []) {
      const element = (entry as { elem?: { val?: unknown; counter?: { packets: number; bytes: number } } }).elem;
      const fields = (element?.val as { concat?: unknown[] } | undefined)?.concat;
      if (!fields || fields.length !== 4) continue;
      const [sandbox, remote, protocol, port] = fields;
      elements.push({
        set: set.name as FlowSet,
        sandbox: String(sandbox),
        remote: String(remote),
        protocol: String(protocol),
        port: Number(port),
        packets: element?.counter?.packets ?? 0,
        bytes: element?.counter?.bytes ?? 0,
      });
    }
  }
  return elements;
}

/**
 * The receipt of the sandbox at `sandboxAddress`: one entry per destination (address, port, protocol) and verdict,
 * with bytes and packets each way, named from the sandbox's DNS questions; one per name its resolver refused; one per
 * name, address, port and verdict of its connections through the allowlist proxy; an allowed TCP flow names the
 * connector whose endpoint it reached (`connectorOf`). Sorted by name, address and port.
 */
export function networkReceipt(
  sandboxAddress: string,
  elements: FlowElement[],
  queries: DnsQuery[],
  proxied: ProxiedConnection[] = [],
  connectorOf: (address: string, port: number) => string | undefined = () => undefined,
): NetworkFlow[] {
  const names = new Map<string, string>();
  for (const query of queries) for (const answer of query.answers) names.set(answer, query.name);
  const flows = new Map<string, NetworkFlow>();
  for (const element of elements) {
    if (element.sandbox !== sandboxAddress || (element.protocol !== 'tcp' && element.protocol !== 'udp')) continue;
    const rule = REFUSING_RULES[element.set] ?? null;
    const key = `${element.remote}/${element.port}/${element.protocol}/${rule ?? 'allowed'}`;
    let flow = flows.get(key);
    if (!flow) {
      flow = {
        name: names.get(element.remote) ?? null,
        address: element.remote,
        port: element.port,
        protocol: element.protocol,
        bytesOut: 0,
        bytesIn: 0,
        packetsOut: 0,
        packetsIn: 0,
        verdict: rule === null ? 'allowed' : 'blocked',
        rule,
        connector: rule === null && element.protocol === 'tcp' ? (connectorOf(element.remote, element.port) ?? null) : null,
      };
      flows.set(key, flow);
    }
    if (element.set === 'flows_in') {
      flow.bytesIn += element.bytes;
      flow.packetsIn = (flow.packetsIn ?? 0) + element.packets;
    } else {
      flow.bytesOut += element.bytes;
      flow.packetsOut = (flow.packetsOut ?? 0) + element.packets;
    }
  }
  for (const query of queries) {
    if (query.verdict !== 'refused') continue;
    const key = `dns/${query.name}/${query.transport}`;
    if (flows.has(key)) continue;
    flows.set(key, {
      name: query.name,
      address: null,
      port: 53,
      protocol: query.transport,
      ...UNCOUNTED,
      verdict: 'blocked',
      rule: 'allowlist',
      connector: null,
    });
  }
  for (const connection of proxied) {
    const key = `proxy/${connection.name}/${connection.address}/${connection.port}/${connection.verdict}/${connection.rule}`;
    const flow = flows.get(key) ?? { ...connection, protocol: 'tcp' as const, ...UNCOUNTED, connector: null };
    flows.set(key, flow);
    flow.bytesOut += connection.bytesOut;
    flow.bytesIn += connection.bytesIn;
  }
  return [...flows.values()].sort(
    (a, b) => (a.name ?? '').localeCompare(b.name ?? '') || (a.address ?? '').localeCompare(b.address ?? '') || a.port - b.port,
  );
}
