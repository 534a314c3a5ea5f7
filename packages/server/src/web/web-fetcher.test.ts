import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebFetcher, WebFetchRefused, type WebFetchLimits } from './web-fetcher.js';

// A loopback server stands for the internet (allowLoopback, as only tests set it); names resolve through a table,
// so a name can stand for a private, metadata or host address without any traffic going there: those are refused
// before a connection is made.
let server: Server;
let port = 0;
const requests: string[] = [];

const NAMES: Record<string, string[]> = {
  'good.example': ['127.0.0.1'],
  'also-good.example': ['127.0.0.1'],
  'blocked.example': ['127.0.0.1'],
  'metadata.example': ['169.254.169.254'],
  'private.example': ['10.1.2.3'],
  'mixed.example': ['127.0.0.1', '192.168.1.10'],
};

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push(`${request.headers.host}${request.url}`);
    const at = (path: string) => `http://${path}`;
    switch (request.url) {
      case '/page':
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<title>Page</title><p>hello</p>');
        return;
      case '/to-good':
        response.writeHead(302, { location: at(`also-good.example:${port}/page`) }).end();
        return;
      case '/to-blocked':
        response.writeHead(301, { location: at(`blocked.example:${port}/page`) }).end();
        return;
      case '/to-metadata':
        response.writeHead(302, { location: at('metadata.example/latest/meta-data/') }).end();
        return;
      case '/to-private-literal':
        response.writeHead(307, { location: 'http://10.0.0.5/admin' }).end();
        return;
      case '/loop':
        response.writeHead(302, { location: '/loop' }).end();
        return;
      case '/big':
        response.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(100_000));
        return;
      case '/slow':
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.write('start');
        return; // never ends
      case '/binary':
        response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(10));
        return;
      case '/untyped-text':
        response.end('just text');
        return;
      case '/untyped-binary':
        response.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]));
        return;
      default:
        response.writeHead(404, { 'content-type': 'text/plain' }).end('none');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const lookup = async (name: string) => NAMES[name] ?? Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
const fetcher = new WebFetcher({ lookup, allowLoopback: true });
const limits = (changes: Partial<WebFetchLimits> = {}): WebFetchLimits => ({
  domains: { mode: 'blocklist', entries: ['blocked.example'] },
  httpsOnly: false,
  maxResponseBytes: 10_000,
  timeoutMs: 2_000,
  ...changes,
});
const refusal = async (url: string, changes?: Partial<WebFetchLimits>, using = fetcher) => {
  const error = await using.fetch(url, limits(changes)).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(WebFetchRefused);
  return error as WebFetchRefused;
};

describe('a web fetch', () => {
  it('gets a page, following redirects that the policy allows, each hop checked and recorded', async () => {
    const result = await fetcher.fetch(`http://good.example:${port}/to-good`, limits());
    expect(result).toMatchObject({ finalUrl: `http://also-good.example:${port}/page`, status: 200, contentType: 'text/html', truncated: false });
    expect(result.body.toString()).toContain('hello');
    expect(result.hops).toEqual([
      { url: `http://good.example:${port}/to-good`, rule: 'not_in_blocklist', address: '127.0.0.1', status: 302 },
      { url: `http://also-good.example:${port}/page`, rule: 'not_in_blocklist', address: '127.0.0.1', status: 200 },
    ]);
  });

  it('refuses a redirect to a blocked domain, to a name of a private or metadata address, or to a private address', async () => {
    expect(await refusal(`http://good.example:${port}/to-blocked`)).toMatchObject({ rule: 'blocklist:blocked.example' });
    const metadata = await refusal(`http://good.example:${port}/to-metadata`);
    expect(metadata).toMatchObject({ rule: 'blocked_range:169.254.0.0/16' });
    expect(metadata.hops.at(-1)).toMatchObject({ url: 'http://metadata.example/latest/meta-data/', address: null, status: null });
    expect(await refusal(`http://good.example:${port}/to-private-literal`)).toMatchObject({ rule: 'blocked_range:10.0.0.0/8' });
    expect(requests.some((request) => request.includes('meta-data') || request.includes('/admin'))).toBe(false);
  });

  it('refuses a name with any forbidden address, an address of this host, and loopback outside tests', async () => {
    expect(await refusal('http://private.example/')).toMatchObject({ rule: 'blocked_range:10.0.0.0/8' });
    expect(await refusal(`http://mixed.example:${port}/page`)).toMatchObject({ rule: 'blocked_range:192.168.0.0/16' });
    expect(await refusal('http://nowhere.example/')).toMatchObject({ rule: 'no_address' });
    const own = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;
    if (own) {
      const viaOwn = new WebFetcher({ lookup: async () => [own] });
      expect((await refusal('http://own.example/', {}, viaOwn)).rule).toMatch(/^(host_address|blocked_range:.*)$/);
    }
    const strict = new WebFetcher({ lookup });
    expect(await refusal(`http://good.example:${port}/page`, {}, strict)).toMatchObject({ rule: 'blocked_range:127.0.0.0/8' });
  });

  it('requires https at every hop when the policy says so, and stops after too many redirects', async () => {
    expect(await refusal(`http://good.example:${port}/page`, { httpsOnly: true })).toMatchObject({ rule: 'https_only' });
    const loop = await refusal(`http://good.example:${port}/loop`, { maxRedirects: 3 });
    expect(loop).toMatchObject({ rule: 'redirects' });
    expect(loop.hops).toHaveLength(4);
  });

  it('cuts a body at the size limit, gives up on a slow answer, and keeps only text', async () => {
    const big = await fetcher.fetch(`http://good.example:${port}/big`, limits({ maxResponseBytes: 1000 }));
    expect(big).toMatchObject({ truncated: true });
    expect(big.body).toHaveLength(1000);
    const started = performance.now();
    expect(await refusal(`http://good.example:${port}/slow`, { timeoutMs: 300 })).toMatchObject({ rule: 'timeout' });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await refusal(`http://good.example:${port}/binary`)).toMatchObject({ rule: 'content_type' });
    expect(await refusal(`http://good.example:${port}/untyped-binary`)).toMatchObject({ rule: 'content_type' });
    const untyped = await fetcher.fetch(`http://good.example:${port}/untyped-text`, limits());
    expect(untyped).toMatchObject({ contentType: 'text/plain' });
    expect(untyped.body.toString()).toBe('just text');
    expect(await refusal('not a url')).toMatchObject({ rule: 'url' });
  });
});
