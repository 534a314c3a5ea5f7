import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from '../../../test/support/airlock-fixture.js';
import { runSmoke, type SmokeReport } from './runtimes/smoke.js';
import { runtimeBinary } from './support/runtime-binaries.js';

/**
 * The built SDK (`dist/`, what the package exports by default) in the runtimes it claims besides the Node 20 that runs
 * the suite: Node 18 and 22, Deno and Bun (from the npm packages that ship their binaries; scripts/setup.sh --test)
 * and Chromium (Debian's, driven by playwright-core), each against a real server. No runtime reaches past loopback:
 * Deno's permissions allow only 127.0.0.1, and Chromium resolves no host name but 127.0.0.1.
 */

const packageDirectory = fileURLToPath(new URL('..', import.meta.url));
const smokeProgram = fileURLToPath(new URL('./runtimes/smoke-main.ts', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

let airlock: AirlockFixture;
let pages: Server;
let pagesOrigin: string;
let home: string;

/** Serves `dist/` under /sdk/ and an empty page at /, the origin the browser runs the SDK from. */
function servePages(): Server {
  const dist = join(packageDirectory, 'dist');
  return createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://pages').pathname;
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>sdk</title>');
      return;
    }
    const file = normalize(join(dist, path.replace(/^\/sdk\//, '/')));
    if (!path.startsWith('/sdk/') || !file.startsWith(dist) || extname(file) !== '.js') {
      response.writeHead(404).end();
      return;
    }
    try {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(file));
    } catch {
      response.writeHead(404).end();
    }
  });
}

beforeAll(async () => {
  pages = servePages();
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pagesOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  airlock = await startAirlock({ environment: { AIRLOCK_CORS_ORIGINS: pagesOrigin } });
  home = await mkdtemp(join(tmpdir(), 'airlock-runtimes-'));
});
afterAll(async () => {
  await airlock?.close();
  await new Promise((resolve) => pages?.close(resolve));
  if (home) await rm(home, { recursive: true, force: true });
});

function expectWorkingSdk(report: SmokeReport, runtime: string): void {
  expect(report).toEqual({
    runtime,
    execute: { stdout: '42\n', exitCode: 0, success: true },
    failedExitCode: 3,
    validationError: { isValidationError: true, code: 'validation_error' },
    stream: { eventTypes: ['status', 'output', 'result'], onStdout: '0\n1\n2\n', result: '0\n1\n2\n' },
    abortedAs: 'AirlockAbortError',
    files: { listed: ['notes', 'notes/hello.txt'], downloaded: `hello from ${runtime}\n` },
  });
}

/** Runs a runtime with the key and URL in its environment, and parses the report it prints. */
async function runReport(command: string, args: string[]): Promise<SmokeReport> {
  const { stdout } = await promisify(execFile)(command, args, {
    cwd: dirname(smokeProgram),
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      AIRLOCK_URL: airlock.url,
      AIRLOCK_API_KEY: airlock.apiKey,
      NO_COLOR: '1',
      DENO_NO_UPDATE_CHECK: '1',
      DO_NOT_TRACK: '1',
    },
  });
  return JSON.parse(stdout) as SmokeReport;
}

/** The smoke run as JavaScript source, `runSmoke` as compiled for this suite, for runtimes that cannot run TypeScript. */
function smokeSource(sdkSpecifier: string, runtime: string, options?: { apiKey: string; baseUrl: string }): string {
  return `(async () => (${runSmoke.toString()})(await import(${JSON.stringify(sdkSpecifier)}), ${JSON.stringify(runtime)}, ${JSON.stringify(options)}))()`;
}

describe('@airlock/sdk outside the Node that runs the suite', () => {
  it('works in Deno with no permission beyond loopback and its two environment variables', async () => {
    const report = await runReport(runtimeBinary('deno'), [
      'run',
      '--no-config',
      '--no-lock',
      '--no-prompt',
      '--allow-net=127.0.0.1',
      '--allow-env=AIRLOCK_API_KEY,AIRLOCK_URL',
      smokeProgram,
      'deno',
    ]);
    expectWorkingSdk(report, 'deno');
  });

  it('works in Bun', async () => {
    expectWorkingSdk(await runReport(runtimeBinary('bun'), ['run', '--no-install', smokeProgram, 'bun']), 'bun');
  });

  it('works in Node 22', async () => {
    expectWorkingSdk(await runReport(runtimeBinary('node22'), [smokeProgram, 'node22']), 'node22');
  });

  it('works in Node 18, the oldest Node its package supports', async () => {
    const sdkEntry = pathToFileURL(join(packageDirectory, 'dist', 'index.js')).href;
    const source = `console.log(JSON.stringify(await ${smokeSource(sdkEntry, 'node18')}))`;
    expectWorkingSdk(await runReport(runtimeBinary('node18'), ['--input-type=module', '--eval', source]), 'node18');
  });

  it('works in a Chromium page served from another origin, through the CORS the server allows it', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${pagesOrigin}/`);
      const report = await page.evaluate(smokeSource('/sdk/index.js', 'chromium', { apiKey: airlock.apiKey, baseUrl: airlock.url }));
      expectWorkingSdk(report as SmokeReport, 'chromium');
    } finally {
      await browser.close();
    }
  });
});
