import { describe, expect, it } from 'vitest';
import { ALWAYS_BLOCKED_IPV4 } from '@airlock/contracts';
import { hostRuleset } from './network-ruleset.js';

describe('hostRuleset', () => {
  const ruleset = hostRuleset({ interfacePrefix: 'alk', forwardSandboxesOnly: false, sandboxSubnet: '10.213.0.0/16' });

  it('replaces the table in one script and blocks every always-blocked range, port 25 and IPv6', () => {
    expect(ruleset.split('\n').slice(0, 3)).toEqual(['table inet airlock', 'delete table inet airlock', 'table inet airlock {']);
    expect(ruleset).toContain(`elements = { ${ALWAYS_BLOCKED_IPV4.join(', ')} }`);
    for (const range of ['10.0.0.0/8', '169.254.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']) {
      expect(ALWAYS_BLOCKED_IPV4).toContain(range);
    }
    for (const documentation of ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']) {
      expect(ALWAYS_BLOCKED_IPV4.join(' ')).not.toContain(documentation.split('/')[0]!);
    }
    expect(ruleset).toContain('tcp dport { 25 } jump refuse');
    expect(ruleset).toContain('meta nfproto ipv6 jump refuse');
    expect(ruleset).toContain('fib saddr . iif oif missing drop');
  });

  it('refuses every packet from a sandbox to the host but DNS to a gateway, and every new connection into a sandbox', () => {
    expect(ruleset).toContain('iifname "alk*" ip daddr 10.213.0.0/16 ip daddr & 0.0.0.3 == 0.0.0.1 meta l4proto { tcp, udp } th dport 53 accept\n');
    expect(ruleset).toContain('oifname "alk*" drop');
    expect(ruleset).toContain('meta l4proto tcp reject with tcp reset');
  });

  it('drops other forwarded traffic only when the host forwards for sandboxes alone', () => {
    expect(ruleset).not.toMatch(/^ {4}drop$/m);
    expect(hostRuleset({ interfacePrefix: 'alk', forwardSandboxesOnly: true, sandboxSubnet: '10.213.0.0/16' })).toMatch(/^ {4}drop$/m);
  });

  it('counts each sandbox flow that passes, each way, and each one a rule refuses, by rule', () => {
    for (const set of ['flows_out', 'flows_in', 'refused_host', 'refused_range', 'refused_port']) {
      expect(ruleset).toContain(`set ${set} {\n    type ipv4_addr . ipv4_addr . inet_proto . inet_service\n    flags dynamic\n    counter`);
    }
    expect(ruleset).toContain('update @refused_host { ip saddr . ip daddr . meta l4proto . th dport }\n    iifname "alk*" jump refuse');
    expect(ruleset).toContain('update @flows_in { ip daddr . ip saddr . meta l4proto . th sport }');
    expect(ruleset).toContain('meta l4proto { tcp, udp } update @flows_out { ip saddr . ip daddr . meta l4proto . th dport }\n    accept');
  });
});

describe('hostRuleset for allowlist sandboxes', () => {
  const ruleset = hostRuleset({ interfacePrefix: 'alk', forwardSandboxesOnly: false, sandboxSubnet: '10.213.0.0/16' });

  it("sends their HTTP and HTTPS to the proxy, except to listed networks, connectors' endpoints, the host and always-blocked ranges", () => {
    expect(ruleset).toContain(
      'iifname "alk*" ip saddr @allowlisted tcp dport { 80, 443 } fib daddr type != local ip daddr != @always_blocked_ipv4 ' +
        'ip saddr . ip daddr != @allowed_networks ip saddr . ip daddr . tcp dport != @connector_endpoints ' +
        'add @proxied { ip saddr . tcp sport : ip daddr } redirect',
    );
    expect(ruleset).toContain('iifname "alk*" ip saddr @allowlisted ct status dnat tcp dport { 80, 443 } accept');
  });

  it('refuses QUIC and everything but listed networks and resolved addresses, after the rules of every mode', () => {
    const egress = ruleset.slice(ruleset.indexOf('chain sandbox_egress'));
    expect(egress.indexOf('ip saddr @allowlisted jump allowlist_egress')).toBeGreaterThan(egress.indexOf('tcp dport { 25 } jump refuse'));
    expect(ruleset).toContain(
      [
        '  chain allowlist_egress {',
        '    udp dport 443 update @refused_allowlist { ip saddr . ip daddr . meta l4proto . th dport } jump refuse',
        '    ip saddr . ip daddr @allowed_networks return',
        '    ip saddr . ip daddr @resolved return',
        '    meta l4proto { tcp, udp } update @refused_allowlist { ip saddr . ip daddr . meta l4proto . th dport }',
        '    jump refuse',
        '  }',
      ].join('\n'),
    );
  });
});

describe('hostRuleset between sandboxes', () => {
  it('refuses, at once and counted, what a sandbox sends to another sandbox, before the silent drop of anything else into one', () => {
    const ruleset = hostRuleset({ interfacePrefix: 'alk', forwardSandboxesOnly: false, sandboxSubnet: '10.213.0.0/16' });
    const refused = ruleset.indexOf('iifname "alk*" oifname "alk*" jump refuse');
    expect(ruleset).toContain('iifname "alk*" oifname "alk*" meta l4proto { tcp, udp } update @refused_range');
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(ruleset.indexOf('oifname "alk*" drop'));
  });
});
