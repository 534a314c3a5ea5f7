import { describe, expect, it } from 'vitest';
import { flowElements, networkReceipt } from './network-receipt.js';

const element = (set: string, fields: unknown[], packets: number, bytes: number) => ({
  set: { family: 'inet', name: set, table: 'airlock', elem: [{ elem: { val: { concat: fields }, counter: { packets, bytes } } }] },
});

const listing = {
  nftables: [
    { metainfo: { version: '1.0.6' } },
    element('flows_out', ['10.213.0.2', '198.51.100.10', 'tcp', 8080], 6, 400),
    element('flows_in', ['10.213.0.2', '198.51.100.10', 'tcp', 8080], 5, 9000),
    element('refused_range', ['10.213.0.2', '10.77.0.10', 'tcp', 80], 1, 60),
    element('refused_host', ['10.213.0.2', '10.213.0.1', 'tcp', 22], 1, 60),
    element('flows_out', ['10.213.0.6', '198.51.100.10', 'tcp', 8080], 2, 120),
    { set: { family: 'inet', name: 'always_blocked_ipv4', elem: [{ prefix: { addr: '10.0.0.0', len: 8 } }] } },
  ],
};

describe('networkReceipt', () => {
  it("lists one sandbox's destinations with bytes and packets each way, the refused ones with their rule, named from its DNS, with their connector", () => {
    const receipt = networkReceipt(
      '10.213.0.2',
      flowElements(listing),
      [{ name: 'web.test.example', type: 'A', answers: ['198.51.100.10'], verdict: 'answered', transport: 'udp' }],
      [],
      (address, port) => (address === '198.51.100.10' && port === 8080 ? 'warehouse' : undefined),
    );
    expect(receipt).toEqual([
      { name: null, address: '10.213.0.1', port: 22, protocol: 'tcp', bytesOut: 60, bytesIn: 0, packetsOut: 1, packetsIn: 0, verdict: 'blocked', rule: 'host_address', connector: null },
      { name: null, address: '10.77.0.10', port: 80, protocol: 'tcp', bytesOut: 60, bytesIn: 0, packetsOut: 1, packetsIn: 0, verdict: 'blocked', rule: 'blocked_range', connector: null },
      {
        name: 'web.test.example',
        address: '198.51.100.10',
        port: 8080,
        protocol: 'tcp',
        bytesOut: 400,
        bytesIn: 9000,
        packetsOut: 6,
        packetsIn: 5,
        verdict: 'allowed',
        rule: null,
        connector: 'warehouse',
      },
    ]);
  });

  it('lists the names its resolver refused and its connections through the allowlist proxy, by name, address and verdict', () => {
    const proxied = (name: string | null, address: string | null, verdict: 'allowed' | 'blocked', bytesOut: number, bytesIn: number) => ({
      name,
      address,
      port: 443,
      bytesOut,
      bytesIn,
      verdict,
      rule: verdict === 'allowed' ? null : ('allowlist' as const),
    });
    const receipt = networkReceipt(
      '10.213.0.2',
      [],
      [
        { name: 'evil.example', type: 'A', answers: [], verdict: 'refused', transport: 'udp' },
        { name: 'evil.example', type: 'AAAA', answers: [], verdict: 'refused', transport: 'udp' },
      ],
      [
        proxied('web.test.example', '198.51.100.10', 'allowed', 500, 7000),
        proxied('web.test.example', '198.51.100.10', 'allowed', 300, 100),
        proxied('other.test.example', '198.51.100.10', 'blocked', 517, 0),
        proxied(null, '198.51.100.10', 'blocked', 517, 0),
      ],
    );
    const uncounted = { protocol: 'tcp', packetsOut: null, packetsIn: null, connector: null };
    expect(receipt).toEqual([
      { name: null, address: '198.51.100.10', port: 443, bytesOut: 517, bytesIn: 0, verdict: 'blocked', rule: 'allowlist', ...uncounted },
      { name: 'evil.example', address: null, port: 53, protocol: 'udp', bytesOut: 0, bytesIn: 0, packetsOut: null, packetsIn: null, verdict: 'blocked', rule: 'allowlist', connector: null },
      { name: 'other.test.example', address: '198.51.100.10', port: 443, bytesOut: 517, bytesIn: 0, verdict: 'blocked', rule: 'allowlist', ...uncounted },
      { name: 'web.test.example', address: '198.51.100.10', port: 443, bytesOut: 800, bytesIn: 7100, verdict: 'allowed', rule: null, ...uncounted },
    ]);
  });

  it('reads nothing from output without flow sets', () => {
    expect(flowElements({ nftables: [{ metainfo: {} }] })).toEqual([]);
    expect(flowElements(undefined)).toEqual([]);
  });
});
