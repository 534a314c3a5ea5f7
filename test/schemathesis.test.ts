import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionEvent } from '../packages/contracts/src/index.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

/** Installed by `bash scripts/setup.sh --test`. */
const SCHEMATHESIS = fileURLToPath(new URL('../.venv-test/bin/st', import.meta.url));

/** Checks every response must pass: no 5xx, and status, content type, headers and body as the document says. */
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
].join(',');

/** Fixed so a failure replays; `AIRLOCK_FUZZ_SEED=<n>` explores other inputs. */
const SEED = process.env.AIRLOCK_FUZZ_SEED ?? '20261202';
/**
 * A hung run is killed after this long; it is no timing goal. On two cores the admin run alone takes about two
 * minutes, and more beside the rest of the suite.
 */
const RUN_LIMIT_MS = 300_000;

let airlock: AirlockFixture;
let workDirectory: string;

beforeAll(async () => {
  // Fuzzing sends thousands of requests a minute with one key: the per-key allowance would answer most with 429.
  airlock = await startAirlock({ environment: { AIRLOCK_RATE_LIMIT_PER_MINUTE: '1000000' } });
  // Schemathesis writes its reports and example database below the working directory: keep them out of the checkout.
  workDirectory = await mkdtemp(join(tmpdir(), 'airlock-schemathesis-'));
});

afterAll(async () => {
  await airlock?.close();
  if (workDirectory) await rm(workDirectory, { recursive: true, force: true });
});

/** Runs `st run` against this test's server (loopback only) and resolves with its exit code and output. */
function schemathesis(options: { credential: string; operations: string[] }): Promise<{ code: number | null; output: string }> {
  const args = [
    'run',
    `${airlock.url}/openapi.json`,
    '--checks',
    CHECKS,
    '--header',
    `Authorization: Bearer ${options.credential}`,
    // MCP's Streamable HTTP answers 406 unless the client takes both; every other operation answers JSON to it.
    '--header',
    'Accept: application/json, text/event-stream',
    ...options.operations,
    '--max-examples',
    '50',
    // One worker: concurrent generation trips a CPython 3.11 bug in Hypothesis's lambda descriptions (ast.parse
    // "recursion depth mismatch"), reported as an error of the run rather than of the API.
    '--workers',
    '1',
    '--request-timeout',
    '30',
    '--generation-database',
    'none',
    '--seed',
    SEED,
    '--no-color',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(SCHEMATHESIS, args, { cwd: workDirectory, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += `\n[test] schemathesis ran longer than ${RUN_LIMIT_MS} ms and was killed\n`;
      child.kill('SIGKILL');
    }, RUN_LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function expectPassed(run: { code: number | null; output: string }): void {
  if (run.code !== 0) console.error(run.output);
  expect(run.code, 'schemathesis found failures; its report is printed above').toBe(0);
  expect(run.output).toMatch(/\d+ generated, \d+ passed/);
}

describe('fuzzing the OpenAPI document against a real server (schemathesis)', () => {
  it('is installed by scripts/setup.sh --test', () => {
    expect(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run bash scripts/setup.sh --test`).toBe(true);
  });

  it('the API key operations answer as documented, never with a 5xx', { timeout: RUN_LIMIT_MS + 30_000 }, async () => {
    // Every /v1 operation, MCP, the health, metrics and docs endpoints, and the signed file URLs (whose tokens
    // the fuzzer cannot sign: they answer 403, which is documented). Executions run real sandboxes.
    expectPassed(await schemathesis({ credential: airlock.apiKey, operations: ['--exclude-path-regex', '^/admin/'] }));
  });

  it('streamed and replayed events are ExecutionEvents, exactly', async () => {
    // Schemathesis has no NDJSON deserializer, so it cannot check these bodies against the document itself.
    const streamed = await fetch(`${airlock.url}/v1/sandbox/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${airlock.apiKey}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify({ code: 'import sys\nprint("out")\nprint("err", file=sys.stderr)' }),
    });
    expect(streamed.headers.get('content-type')).toBe('application/x-ndjson');
    const events = (await streamed.text()).trim().split('\n').map((line) => JSON.parse(line) as unknown);
    const last = ExecutionEvent.parse(events.at(-1));
    expect(last.type).toBe('result');
    const traceId = last.type === 'result' ? last.trace_id : '';
    const replayed = await airlock.request<string>(`/v1/executions/${traceId}/output`);
    const replayedEvents = replayed.body.trim().split('\n').map((line) => JSON.parse(line) as unknown);
    for (const event of [...events, ...replayedEvents]) expect(ExecutionEvent.parse(event)).toEqual(event);
    expect(replayedEvents.map((event) => (event as { type: string }).type)).toEqual(events.map((event) => (event as { type: string }).type));
  });

  it('the admin operations answer as documented, never with a 5xx', { timeout: RUN_LIMIT_MS + 30_000 }, async () => {
    // Last: these create, rotate and revoke keys (possibly the fixture's own) and change the default sandbox config,
    // which would change what the calls above do.
    expectPassed(await schemathesis({ credential: airlock.adminToken, operations: ['--include-path-regex', '^/admin/'] }));
  });
});
