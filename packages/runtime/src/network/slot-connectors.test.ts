import { describe, expect, it } from 'vitest';
import { SlotConnectors } from './slot-connectors.js';

function slot() {
  const commands: string[] = [];
  const connectors = new SlotConnectors({ address: '10.213.0.2', nft: async (command) => void commands.push(command) });
  return { connectors, commands };
}

describe('SlotConnectors', () => {
  it('opens an address endpoint at once, and a name only on the addresses its resolver hands out, on its port', async () => {
    const { connectors, commands } = slot();
    await connectors.open([
      { connector: 'warehouse', host: '10.77.0.20', port: 5432 },
      { connector: 'code', host: 'github.com', port: 443 },
      { connector: 'lake', host: '*.s3.eu-west-1.amazonaws.com', port: 443 },
    ]);
    expect(commands).toEqual(['add element inet airlock connector_endpoints { 10.213.0.2 . 10.77.0.20 . 5432 }']);
    expect([connectors.allows('github.com'), connectors.allows('bucket.s3.eu-west-1.amazonaws.com'), connectors.allows('example.com')]).toEqual([true, true, false]);
    await connectors.beforeAnswer('github.com', ['198.51.100.30']);
    await connectors.beforeAnswer('example.com', ['198.51.100.99']);
    expect(commands.at(-1)).toBe('add element inet airlock connector_endpoints { 10.213.0.2 . 198.51.100.30 . 443 }');
    expect(commands).toHaveLength(2);
    expect([connectors.connectorOf('198.51.100.30', 443), connectors.connectorOf('198.51.100.30', 80)]).toEqual(['code', undefined]);
    await connectors.forget();
    expect(commands.at(-1)).toBe('delete element inet airlock connector_endpoints { 10.213.0.2 . 10.77.0.20 . 5432, 10.213.0.2 . 198.51.100.30 . 443 }');
  });

  it('never opens loopback, link-local (cloud metadata), multicast or reserved addresses a name resolves to', async () => {
    const { connectors, commands } = slot();
    await connectors.open([{ connector: 'api', host: 'api.example.com', port: 80 }]);
    await connectors.beforeAnswer('api.example.com', ['169.254.169.254', '127.0.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '10.1.2.3']);
    expect(commands).toEqual(['add element inet airlock connector_endpoints { 10.213.0.2 . 10.1.2.3 . 80 }']);
  });
});
