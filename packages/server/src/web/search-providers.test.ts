import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchFailed, searchProvider } from './search-providers.js';

// One loopback server answers as SearXNG, Brave and Tavily answer (their documented JSON), and records each request.
let server: Server;
let endpoint = '';
let seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      const json = (value: unknown) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (request.url?.startsWith('/searx/search')) {
        json({
          query: 'bees',
          results: [
            { url: 'https://en.wikipedia.org/wiki/Bee', title: 'Bee - Wikipedia', content: 'Bees are winged insects', engine: 'wikipedia' },
            { url: 'javascript:alert(1)', title: 'not a page', content: '' },
            { url: 'https://bees.example/', title: 'Bees', content: 'All about bees' },
          ],
        });
      } else if (request.url?.startsWith('/res/v1/web/search')) {
        if (request.headers['x-subscription-token'] !== 'brave-key-1234') return void response.writeHead(401).end();
        json({ type: 'search', web: { type: 'search', results: [{ title: 'Bee', url: 'https://bee.example/', description: 'A <strong>bee</strong>' }] } });
      } else if (request.url === '/search' && request.method === 'POST') {
        json({ query: 'bees', results: [{ title: 'Bees', url: 'https://t.example/bees', content: 'Tavily says bees', score: 0.9 }] });
      } else {
        response.writeHead(500).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const signal = () => AbortSignal.timeout(2_000);

describe('search providers', () => {
  it('SearXNG: its JSON API, results with a web URL only, at most the count asked', async () => {
    seen = [];
    const results = await searchProvider({ kind: 'searxng', endpoint: `${endpoint}/searx` }).search('bees', 5, signal());
    expect(results).toEqual([
      { title: 'Bee - Wikipedia', url: 'https://en.wikipedia.org/wiki/Bee', snippet: 'Bees are winged insects' },
      { title: 'Bees', url: 'https://bees.example/', snippet: 'All about bees' },
    ]);
    expect(seen[0]?.url).toBe('/searx/search?q=bees&format=json');
    expect(await searchProvider({ kind: 'searxng', endpoint: `${endpoint}/searx/` }).search('bees', 1, signal())).toHaveLength(1);
  });

  it('Brave: the subscription token in its header; a wrong one is a failure that does not show the key', async () => {
    seen = [];
    const results = await searchProvider({ kind: 'brave', endpoint, apiKey: 'brave-key-1234' }).search('bees', 3, signal());
    expect(results).toEqual([{ title: 'Bee', url: 'https://bee.example/', snippet: 'A <strong>bee</strong>' }]);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/res/v1/web/search?q=bees&count=3' });
    const refused = await searchProvider({ kind: 'brave', endpoint, apiKey: 'wrong-key-5678' }).search('bees', 3, signal()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SearchFailed);
    expect(String(refused)).toContain('brave answered 401');
    expect(String(refused)).not.toContain('wrong-key-5678');
  });

  it('Tavily: a POST with the key as a bearer token', async () => {
    seen = [];
    const results = await searchProvider({ kind: 'tavily', endpoint, apiKey: 'tvly-key' }).search('bees', 4, signal());
    expect(results).toEqual([{ title: 'Bees', url: 'https://t.example/bees', snippet: 'Tavily says bees' }]);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/search', headers: expect.objectContaining({ authorization: 'Bearer tvly-key' }) });
    expect(JSON.parse(seen[0]?.body ?? '{}')).toEqual({ query: 'bees', max_results: 4 });
  });

  it('names what a provider lacks', () => {
    expect(() => searchProvider({ kind: 'searxng' })).toThrow('needs its endpoint');
    expect(() => searchProvider({ kind: 'brave' })).toThrow('needs its API key');
  });
});
