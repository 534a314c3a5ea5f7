import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from '../../../test/support/airlock-fixture.js';
import { launchChromium } from '../../../test/support/browser.js';
import { runSmoke, type SmokeReport } from './runtimes/smoke.js';
import { runtimeBinary } from './support/runtime-binaries.js';

/**
 * The built SDK (`dist/`, what the package exports by default) in the runtimes it claims besides the Node 20 that runs
 * the suite: Node 18 and 22, Deno, Bun and workerd (from the npm packages that ship their binaries;
 * scripts/setup.sh --test) and Chromium (Debian's, driven by playwright-core), each against a real server. No runtime
 * reaches past loopback: Deno's permissions allow only 127.0.0.1, workerd's outbound network is loopback only, and
 * Chromium resolves no host name but 127.0.0.1.
 */

const packageDirectory = fileURLToPath(new URL('..', import.meta.url));
const smokeProgram = fileURLToPath(new URL('./runtimes/smoke-main.ts', import.meta.url));

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

/**
 * Starts workerd serving one worker, on a Unix socket in `directory`, whose fetch handler runs the smoke program with
 * the built SDK's modules (dist/, not its tools) and answers the report as JSON.
 */
async function startWorkerd(directory: string, options: { apiKey: string; baseUrl: string }) {
  const dist = join(packageDirectory, 'dist');
  const sdkModules = (await readdir(dist)).filter((name) => name.endsWith('.js'));
  for (const name of sdkModules) await copyFile(join(dist, name), join(directory, name));
  await writeFile(
    join(directory, 'worker.js'),
    `import * as sdk from './index.js';
const runSmoke = ${runSmoke.toString()};
export default {
  async fetch(request, env) {
    try {
      return Response.json(await runSmoke(sdk, 'workerd', { apiKey: env.AIRLOCK_API_KEY, baseUrl: env.AIRLOCK_URL }));
    } catch (error) {
      return new Response(String(error && error.stack || error), { status: 500 });
    }
  },
};
`,
  );
  const socket = join(directory, 'worker.sock');
  const modules = ['worker.js', ...sdkModules].map((name) => `(name = "${name}", esModule = embed "${name}")`);
  await writeFile(
    join(directory, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker), (name = "loopback", network = (allow = ["local"]))],
  sockets = [(name = "http", address = "unix:${socket}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${modules.join(', ')}],
  compatibilityDate = "2025-01-01",
  bindings = [(name = "AIRLOCK_API_KEY", text = ${JSON.stringify(options.apiKey)}), (name = "AIRLOCK_URL", text = ${JSON.stringify(options.baseUrl)})],
  globalOutbound = "loopback",
);
`,
  );
  const child = spawn(runtimeBinary('workerd'), ['serve', join(directory, 'config.capnp')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 15_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`workerd did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    socket,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

function requestOverUnixSocket(socketPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ socketPath, path: '/', headers: { host: 'worker' } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
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

  it('works in a worker of workerd, the Workers runtime, whose only outbound network is loopback', async () => {
    const directory = await mkdtemp(join(home, 'workerd-'));
    const worker = await startWorkerd(directory, { apiKey: airlock.apiKey, baseUrl: airlock.url });
    try {
      const answer = await requestOverUnixSocket(worker.socket);
      expect(answer.status, answer.body).toBe(200);
      expectWorkingSdk(JSON.parse(answer.body) as SmokeReport, 'workerd');
    } finally {
      await worker.stop();
    }
  });

  it('works in a Chromium page served from another origin, through the CORS the server allows it', async () => {
    const browser = await launchChromium();
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
