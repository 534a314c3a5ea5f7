/**
 * The web gateway's own cost (docs/benchmarks.md, section 17; docs/decisions/0031-web-tools.md), in-process:
 *
 *   npx vite-node bench/web.ts [--iterations 300]
 *
 * A loopback server stands for a web page (a 30 KB article); the gateway fetches it with loopback allowed, as only
 * tests and this benchmark allow. Interleaved, p50 each:
 * - the baseline: one plain HTTP GET of the page from this process (node:http, a new connection each time);
 * - a fetch through the gateway's socket, as `web-fetch` makes it: the token, the policy, the address check, the
 *   GET, readable text (Readability on linkedom) and the injection scan, and the record (kept in memory here);
 * - the same fetch without the scan (injection_scan off), to show what the scan costs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, get, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebFetcher } from '../packages/server/src/web/web-fetcher.js';
import { WebGateway, type WebPolicy } from '../packages/server/src/web/web-gateway.js';
import { percentile } from './percentiles.js';
import { formatMs } from './units.js';

const COMMAND = 'npx vite-node bench/web.ts';
const paragraph = 'The hive keeps its stores of honey through the winter months, and the colony clusters to keep warm. ';
const PAGE = `<!doctype html><html><head><title>Bees</title></head><body><nav>Home About Shop</nav><article><h1>Bees</h1>${Array.from(
  { length: 60 },
  (_, index) => `<p>${index}. ${paragraph.repeat(5)}</p>`,
).join('')}</article><footer>Footer</footer></body></html>`;

const POLICY: WebPolicy = {
  domains: { mode: 'blocklist', entries: [] },
  httpsOnly: false,
  requestsPerMinute: 1_000_000,
  requestsPerCall: 1_000_000,
  maxResponseBytes: 2_000_000,
  injectionScan: 'flag',
  search: false,
};

/** One GET of `url`, its body read whole; the milliseconds it took. */
function plainGet(url: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(performance.now() - started));
    }).on('error', reject);
  });
}

/** One POST /fetch to the gateway's socket with `token`; the milliseconds it took. */
function gatewayFetch(socketPath: string, token: string, url: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const sent = request(
      { socketPath, path: '/fetch', method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (response) => {
        if (response.statusCode !== 200) reject(new Error(`the gateway answered ${response.statusCode}`));
        response.resume();
        response.on('end', () => resolve(performance.now() - started));
      },
    );
    sent.on('error', reject);
    sent.end(JSON.stringify({ url }));
  });
}

async function run(iterations: number): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'airlock-bench-web-'));
  const site = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const url = `http://page.example:${(site.address() as AddressInfo).port}/bees`;
  const socketPath = join(directory, 'web.sock');
  let records = 0;
  const gateway = new WebGateway({
    socketPath,
    sandboxSocketPath: '/run/airlock/host/web.sock',
    fetcher: new WebFetcher({ lookup: async () => ['127.0.0.1'], allowLoopback: true }),
    searchProvider: async () => null,
    record: async () => void (records += 1),
  });
  await gateway.listen();
  const caller = (policy: WebPolicy) => ({ organizationId: 'org_bench', traceId: 'trc_bench', requestId: null, apiKeyId: 'key_bench', actor: 'bench', policy });
  const scanned = gateway.admit(caller(POLICY)).token;
  const unscanned = gateway.admit(caller({ ...POLICY, injectionScan: 'off' })).token;
  const samples = { plain: [] as number[], gateway: [] as number[], unscanned: [] as number[] };
  try {
    for (let index = 0; index < 20; index += 1) {
      await plainGet(url.replace('page.example', '127.0.0.1'));
      await gatewayFetch(socketPath, scanned, url);
    }
    for (let index = 0; index < iterations; index += 1) {
      samples.plain.push(await plainGet(url.replace('page.example', '127.0.0.1')));
      samples.gateway.push(await gatewayFetch(socketPath, scanned, url));
      samples.unscanned.push(await gatewayFetch(socketPath, unscanned, url));
    }
  } finally {
    await gateway.close();
    site.close();
    await rm(directory, { recursive: true, force: true });
  }
  const plain = percentile(samples.plain, 50);
  const through = percentile(samples.gateway, 50);
  const unscannedP50 = percentile(samples.unscanned, 50);
  return [
    `${COMMAND} --iterations ${iterations}`,
    '',
    '| metric | p50 |',
    '| --- | --- |',
    `| plain GET of the ${(Buffer.byteLength(PAGE) / 1024).toFixed(0)} KB page (baseline) | ${formatMs(plain)} |`,
    `| web-fetch through the gateway, scanned | ${formatMs(through)} (${(through / plain).toFixed(1)}x the baseline) |`,
    `| the same, injection scan off | ${formatMs(unscannedP50)} (${(unscannedP50 / plain).toFixed(1)}x) |`,
    `| records written | ${records} |`,
  ].join('\n');
}

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '300' } } });
process.stdout.write(`${await run(Number(values.iterations))}\n`);
