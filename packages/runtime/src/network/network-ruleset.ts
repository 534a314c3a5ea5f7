import { ALWAYS_BLOCKED_IPV4, ALWAYS_BLOCKED_TCP_PORTS } from '@airlock/contracts';

/**
 * The host's nftables rules for sandboxes with network (docs/decisions/0020-sandbox-network.md): table `inet airlock`,
 * matching the sandboxes' host-side interfaces by their name prefix.
 */

export const NFTABLES_TABLE = 'airlock';

/**
 * The sets that count each sandbox's flows, for its network receipt: elements `sandbox . remote . protocol . remote
 * port` (TCP and UDP), with packet and byte counters. `flows_out` and `flows_in` count what passed each way;
 * `refused_*` what a rule refused, by rule.
 */
export const FLOW_SETS = ['flows_out', 'flows_in', 'refused_host', 'refused_range', 'refused_port', 'refused_allowlist'] as const;
export type FlowSet = (typeof FLOW_SETS)[number];

/** An empty set whose listing marks the end of a command that prints nothing (NftablesSession). */
export const SYNC_SET = 'sync';

/**
 * The sets that hold each `allowlist` sandbox's policy, keyed by its address first: `allowlisted` (the sandboxes in
 * that mode), `allowed_networks` (`sandbox . network` of its list's networks), `resolved` (`sandbox . address` its
 * resolver handed out for allowed names, expiring) and the map `proxied` (`sandbox . source port : address`, where a
 * connection redirected to the proxy was going).
 */
export const ALLOWLIST_SETS = ['allowlisted', 'allowed_networks', 'resolved', 'proxied'] as const;
/**
 * `sandbox . address . port`: the TCP endpoints of each sandbox's connectors (SlotConnectors), reached whatever the
 * sandbox's mode and whatever else the rules refuse, host addresses and private ranges included.
 */
export const CONNECTOR_SET = 'connector_endpoints';
/** TCP ports an `allowlist` sandbox reaches only through the allowlist proxy on its gateway, which reads the name. */
export const PROXIED_TCP_PORTS = [80, 443] as const;

export interface RulesetOptions {
  /** Prefix of the host-side interface of every sandbox's link (an nftables wildcard `prefix*` matches them). */
  interfacePrefix: string;
  /**
   * Whether the host forwards only sandboxes' traffic: true when Airlock turned IPv4 forwarding on, so the host does
   * not start routing anything else it receives.
   */
  forwardSandboxesOnly: boolean;
  /**
   * The /16 (`a.b.0.0/16`) the sandboxes' links are numbered from, a /30 each. DNS (port 53, UDP and TCP) to a
   * gateway (the first host address of a /30), where the sandbox's resolver listens, is the one thing a sandbox reaches
   * on the host.
   */
  sandboxSubnet: string;
}

/** A flow's key from a sandbox's packet, and from a reply to it. */
const OUTBOUND_FLOW = 'ip saddr . ip daddr . meta l4proto . th dport';
const INBOUND_FLOW = 'ip daddr . ip saddr . meta l4proto . th sport';
/** A sandbox's TCP packet to one of its connectors' endpoints. */
const CONNECTOR_MATCH = `ip saddr . ip daddr . tcp dport @${CONNECTOR_SET}`;

/**
 * The whole table as an `nft -f` script that replaces any earlier version atomically: a sandbox reaches no address of
 * the host (the input hook sees exactly the packets addressed to one of the host's own addresses, public ones and the
 * sandbox's gateway included), nothing in ALWAYS_BLOCKED_IPV4, no TCP port in ALWAYS_BLOCKED_TCP_PORTS, no IPv6, and
 * nothing with a source address that is not its own; no connection into a sandbox is ever opened. A refused packet
 * is answered at once: TCP with a reset, anything else with ICMP "administratively prohibited".
 *
 * Before any of that, a sandbox reaches the TCP endpoints of its connectors in `connector_endpoints`.
 *
 * A sandbox in `allowlisted` reaches in addition only its allowed networks and the addresses its resolver handed
 * out, except QUIC (UDP 443), which is refused so clients fall back to TCP; its TCP connections to ports 80 and 443
 * anywhere else are redirected to the allowlist proxy on its gateway (the one other thing it reaches on the host).
 */
export function hostRuleset(options: RulesetOptions): string {
  const sandboxes = `"${options.interfacePrefix}*"`;
  const proxied = PROXIED_TCP_PORTS.join(', ');
  const lines = [
    `table inet ${NFTABLES_TABLE}`,
    `delete table inet ${NFTABLES_TABLE}`,
    `table inet ${NFTABLES_TABLE} {`,
    '  set always_blocked_ipv4 {',
    '    type ipv4_addr',
    '    flags interval',
    `    elements = { ${ALWAYS_BLOCKED_IPV4.join(', ')} }`,
    '  }',
    ...FLOW_SETS.flatMap((set) => [
      `  set ${set} {`,
      '    type ipv4_addr . ipv4_addr . inet_proto . inet_service',
      '    flags dynamic',
      '    counter',
      '    size 262144',
      '  }',
    ]),
    `  set ${SYNC_SET} {`,
    '    type ipv4_addr',
    '  }',
    '  set allowlisted {',
    '    type ipv4_addr',
    '  }',
    '  set allowed_networks {',
    '    type ipv4_addr . ipv4_addr',
    '    flags interval',
    '  }',
    '  set resolved {',
    '    type ipv4_addr . ipv4_addr',
    '    flags timeout',
    '  }',
    `  set ${CONNECTOR_SET} {`,
    '    type ipv4_addr . ipv4_addr . inet_service',
    '  }',
    '  map proxied {',
    '    type ipv4_addr . inet_service : ipv4_addr',
    '    flags dynamic, timeout',
    '    timeout 10m',
    '    size 262144',
    '  }',
    '  chain refuse {',
    '    meta l4proto tcp reject with tcp reset',
    '    reject with icmpx admin-prohibited',
    '  }',
    '  chain input {',
    '    type filter hook input priority filter - 10; policy accept;',
    `    iifname ${sandboxes} ip daddr ${options.sandboxSubnet} ip daddr & 0.0.0.3 == 0.0.0.1 meta l4proto { tcp, udp } th dport 53 accept`,
    `    iifname ${sandboxes} ip saddr @allowlisted ct status dnat tcp dport { ${proxied} } accept`,
    `    iifname ${sandboxes} ${CONNECTOR_MATCH} update @flows_out { ${OUTBOUND_FLOW} } accept`,
    `    iifname ${sandboxes} meta l4proto { tcp, udp } update @refused_host { ${OUTBOUND_FLOW} }`,
    `    iifname ${sandboxes} jump refuse`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter - 10; policy accept;',
    `    oifname ${sandboxes} ct state established,related meta l4proto { tcp, udp } update @flows_in { ${INBOUND_FLOW} }`,
    `    oifname ${sandboxes} ct state established,related accept`,
    `    iifname ${sandboxes} oifname ${sandboxes} meta l4proto { tcp, udp } update @refused_range { ${OUTBOUND_FLOW} }`,
    `    iifname ${sandboxes} oifname ${sandboxes} jump refuse`,
    `    oifname ${sandboxes} drop`,
    `    iifname ${sandboxes} jump sandbox_egress`,
    ...(options.forwardSandboxesOnly ? ['    drop'] : []),
    '  }',
    '  chain sandbox_egress {',
    '    fib saddr . iif oif missing drop',
    '    meta nfproto ipv6 jump refuse',
    `    ${CONNECTOR_MATCH} update @flows_out { ${OUTBOUND_FLOW} } accept`,
    `    ip daddr @always_blocked_ipv4 meta l4proto { tcp, udp } update @refused_range { ${OUTBOUND_FLOW} }`,
    '    ip daddr @always_blocked_ipv4 jump refuse',
    `    tcp dport { ${ALWAYS_BLOCKED_TCP_PORTS.join(', ')} } update @refused_port { ${OUTBOUND_FLOW} }`,
    `    tcp dport { ${ALWAYS_BLOCKED_TCP_PORTS.join(', ')} } jump refuse`,
    '    ip saddr @allowlisted jump allowlist_egress',
    `    meta l4proto { tcp, udp } update @flows_out { ${OUTBOUND_FLOW} }`,
    '    accept',
    '  }',
    '  chain allowlist_egress {',
    `    udp dport 443 update @refused_allowlist { ${OUTBOUND_FLOW} } jump refuse`,
    '    ip saddr . ip daddr @allowed_networks return',
    '    ip saddr . ip daddr @resolved return',
    `    meta l4proto { tcp, udp } update @refused_allowlist { ${OUTBOUND_FLOW} }`,
    '    jump refuse',
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    iifname ${sandboxes} ip saddr @allowlisted tcp dport { ${proxied} } fib daddr type != local ip daddr != @always_blocked_ipv4 ` +
      `ip saddr . ip daddr != @allowed_networks ip saddr . ip daddr . tcp dport != @${CONNECTOR_SET} add @proxied { ip saddr . tcp sport : ip daddr } redirect`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    iifname ${sandboxes} oifname != ${sandboxes} masquerade`,
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}
