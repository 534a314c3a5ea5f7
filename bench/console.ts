/**
 * The console's load times (docs/benchmarks.md, section 16), in Debian's Chromium against one server on loopback:
 *
 *   npx vite-node bench/console.ts [--loads 10]
 *
 * For each page, the time from navigating to it until its content is on screen (its heading and its table or empty
 * state), p50 over `--loads` fresh loads with the HTTP cache on; the baseline is loading `/healthz` in the same
 * browser. Also the size of the built files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { ImageStore } from '@airlock/runtime';
import { launchChromium } from '../test/support/browser.js';
import { benchServerConfig, post, startBenchServer } from './airlock-server.js';
import { percentile } from './percentiles.js';
import { progress } from './server-runs.js';
import { formatMs } from './units.js';

const COMMAND = 'npx vite-node bench/console.ts';
const PAGES = ['/console/', '/console/sandboxes', '/console/api-keys', '/console/executions', '/console/webhooks', '/console/storage', '/console/images', '/console/members', '/console/audit'];

async function run(loads: number): Promise<string> {
  const repository = fileURLToPath(new URL('..', import.meta.url));
  const imagesDirectory = resolve(repository, '.cache/images');
  await new ImageStore({ directory: imagesDirectory }).ensure('default', (line) => progress(`[image] ${line}`));
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-console-'));
  const server = await startBenchServer(benchServerConfig({ dataDirectory, imagesDirectory, warmPool: true }));
  const browser = await launchChromium();
  const rows: string[] = [];
  try {
    for (let index = 0; index < 20; index += 1) await post(server, '/v1/sandbox/execute', server.apiKey, { language: 'bash', code: `echo ${index}` });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.signInLink ?? '');
    await page.getByRole('button', { name: 'Sign in as the owner' }).click();
    await page.waitForURL(`${server.url}/console/`);
    const timed = async (path: string, ready: () => Promise<void>): Promise<number> => {
      const started = performance.now();
      await page.goto(`${server.url}${path}`);
      await ready();
      return performance.now() - started;
    };
    const baseline: number[] = [];
    for (let load = 0; load < loads; load += 1) baseline.push(await timed('/healthz', () => page.waitForLoadState('load')));
    const baselineP50 = percentile(baseline, 50);
    rows.push(`| loading /healthz in the same browser (baseline), p50 (${loads}) | ${formatMs(baselineP50)} |`);
    for (const path of PAGES) {
      const samples: number[] = [];
      for (let load = 0; load < loads; load += 1) {
        samples.push(
          await timed(path, async () => {
            await page.getByRole('heading', { level: 1 }).waitFor();
            await page.locator('main table, main p.border-dashed').first().waitFor();
          }),
        );
      }
      const p50 = percentile(samples, 50);
      rows.push(`| ${path} until its content shows, p50 | ${formatMs(p50)} (${(p50 / baselineP50).toFixed(1)}x the baseline) |`);
    }
  } finally {
    await browser.close();
    await server.close();
    await rm(dataDirectory, { recursive: true, force: true });
  }
  const assets = join(repository, 'packages/console/dist/assets');
  for (const file of readdirSync(assets)) {
    const bytes = readFileSync(join(assets, file));
    rows.push(`| ${file.endsWith('.js') ? 'JavaScript' : 'CSS'} of the console (${file}) | ${(bytes.length / 1024).toFixed(1)} KiB (${(gzipSync(bytes).length / 1024).toFixed(1)} KiB gzipped) |`);
  }
  return [`${COMMAND} --loads ${loads}`, '', '| metric | value |', '| --- | --- |', ...rows].join('\n');
}

const { values } = parseArgs({ options: { loads: { type: 'string', default: '10' } } });
process.stdout.write(`${await run(Number(values.loads))}\n`);
