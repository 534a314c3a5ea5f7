import { spawn, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupAddresses, SandboxResolver } from './sandbox-resolver.js';

// A system test beside its code: it binds port 53, so it needs root (vitest.config.ts HOST_TESTS). The upstream is
// the test zone's server (test/support/test-dns-server.mjs) on another loopback address.
const UPSTREAM = '127.0.0.78';
let upstream: ChildProcess;
let resolver: SandboxResolver;
const client = new Resolver({ timeout: 3000, tries: 1 });
client.setServers(['127.0.0.77']);

beforeAll(async () => {
  const script = fileURLToPath(new URL('../../../../test/support/test-dns-server.mjs', import.meta.url));
  upstream = spawn(process.execPath, [script, UPSTREAM], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 100; attempt++) {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: UPSTREAM, port: 53 }, () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (listening) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  resolver = new SandboxResolver({ address: '127.0.0.77', upstream: [UPSTREAM] });
  await resolver.start();
});

afterAll(async () => {
  await resolver?.close();
  upstream?.kill();
});

describe('SandboxResolver', () => {
  it('answers an admitted sandbox through the upstream, refuses names its policy does not allow, and records both', async () => {
    const handedOut: string[][] = [];
    resolver.admit('127.0.0.1');
    resolver.restrict('127.0.0.1', {
      allows: (name) => name.endsWith('.test.example') && name !== 'alias.test.example',
      beforeAnswer: async (_name, addresses) => void handedOut.push(addresses),
    });
    expect(await client.resolve4('web.test.example')).toEqual(['198.51.100.10']);
    await expect(client.resolve4('alias.test.example')).rejects.toMatchObject({ code: 'EREFUSED' });
    await expect(client.resolve4('missing.test.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(handedOut).toEqual([['198.51.100.10'], []]);
    expect(resolver.dismiss('127.0.0.1')).toEqual([
      { name: 'web.test.example', type: 'A', answers: ['198.51.100.10'], verdict: 'answered', transport: 'udp' },
      { name: 'alias.test.example', type: 'A', answers: [], verdict: 'refused', transport: 'udp' },
      { name: 'missing.test.example', type: 'A', answers: [], verdict: 'answered', transport: 'udp' },
    ]);
  });

  it('looks up the addresses of a name through a CNAME, for the allowlist proxy', async () => {
    expect(await lookupAddresses('alias.test.example', [UPSTREAM])).toEqual(['198.51.100.10']);
    expect(await lookupAddresses('missing.test.example', [UPSTREAM])).toEqual([]);
    await expect(lookupAddresses('web.test.example', ['127.0.0.79'])).rejects.toThrow('no resolver answered');
  });

  it('does not answer an address it has not admitted', async () => {
    await expect(client.resolve4('web.test.example')).rejects.toMatchObject({ code: 'ETIMEOUT' });
  });
});
