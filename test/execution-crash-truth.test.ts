import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApiKey, testSandboxUid } from './support/airlock-fixture.js';
import { startServeProcess, waitForExit } from './support/cli-process.js';
import { startPostgres, type PostgresServer } from './support/postgres-server.js';
import { until } from './support/wait.js';

let postgres: PostgresServer;
let dataDirectory: string;
const key = testApiKey();

beforeAll(async () => {
  postgres = await startPostgres();
  dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-crash-truth-'));
}, 180_000);

afterAll(async () => {
  await postgres?.stop();
  if (dataDirectory) await rm(dataDirectory, { recursive: true, force: true });
});

function startServer() {
  const uid = String(testSandboxUid());
  return startServeProcess({
    dataDirectory,
    environment: { DATABASE_URL: postgres.url, AIRLOCK_BOOTSTRAP_API_KEY: key, AIRLOCK_SANDBOX_UID: uid, AIRLOCK_SANDBOX_GID: uid },
  });
}

async function execute(url: string, body: Record<string, unknown>, idempotencyKey?: string) {
  const response = await fetch(`${url}/v1/sandbox/execute`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(idempotencyKey && { 'idempotency-key': idempotencyKey }),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, replayed: response.headers.get('idempotent-replayed'), body: (await response.json()) as Record<string, unknown> };
}

describe('one truth per execution (PostgreSQL)', () => {
  // The fault: another transaction holds the record's row, so the completion (thread release, layer append and record
  // update, one statement) waits on its lock after the call's changes are stored, and the server is killed right
  // there. The statement then either dies with its connection or, already sent, commits once the lock is gone; the
  // record and the thread must agree either way.
  it.each([
    { ending: 'dies with the connection', terminate: true, status: 'failed', error: 'server_stopped', state: 'one\n' },
    { ending: 'commits after the kill', terminate: false, status: 'success', error: null, state: 'two\n' },
  ])('a server killed while it completes a thread call: the completion $ending, the record and the thread agree, a retry runs nothing', async (scenario) => {
    let server = await startServer();
    const client = new pg.Client({ connectionString: postgres.url });
    const locker = new pg.Client({ connectionString: postgres.url });
    await Promise.all([client.connect(), locker.connect()]);
    const thread = `truth-${scenario.terminate}`;
    const idempotencyKey = `crash-${scenario.terminate}`;
    try {
      const first = await execute(server.url, { language: 'bash', thread_id: thread, code: 'echo one > state.txt' });
      expect(first).toMatchObject({ status: 200, body: { status: 'success' } });

      const body = { language: 'bash', thread_id: thread, code: 'echo two > state.txt; sleep 2; echo ran' };
      const pending = execute(server.url, body, idempotencyKey).catch((error: Error) => error);
      let traceId: string | undefined;
      expect(
        await until(async () => {
          const rows = await client.query<{ trace_id: string }>('SELECT trace_id FROM executions WHERE idempotency_key = $1', [idempotencyKey]);
          traceId = rows.rows[0]?.trace_id;
          return traceId !== undefined;
        }, 30_000),
      ).toBe(true);
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM executions WHERE trace_id = $1 FOR UPDATE', [traceId]);
      let completion: number | undefined;
      const waiting = await until(async () => {
        const rows = await client.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE executions%' AND pid <> $1`,
          [(locker as unknown as { processID: number }).processID],
        );
        completion = rows.rows[0]?.pid;
        return completion !== undefined;
      }, 30_000);
      expect(waiting).toBe(true);
      server.child.kill('SIGKILL');
      await waitForExit(server.child);
      if (scenario.terminate) await client.query('SELECT pg_terminate_backend($1)', [completion]);
      await locker.query('ROLLBACK');
      expect(await pending).toBeInstanceOf(Error);

      server = await startServer();
      const record = (await (await fetch(`${server.url}/v1/executions/${traceId}`, { headers: { authorization: `Bearer ${key}` } })).json()) as Record<string, unknown>;
      expect(record).toMatchObject({ status: scenario.status, error: scenario.error });
      if (scenario.terminate) expect(record.error_message).toMatch(/changes it made to a thread's home were not saved/);
      const read = { language: 'bash', thread_id: thread, code: 'cat state.txt' };
      expect((await execute(server.url, read)).body).toMatchObject({ status: 'success', stdout: scenario.state });

      // The retry with the same key gets the first attempt's answer and runs nothing.
      const retry = await execute(server.url, body, idempotencyKey);
      expect(retry).toMatchObject({ status: 200, replayed: 'true', body: { trace_id: traceId, status: scenario.status, error: scenario.error } });
      expect((await execute(server.url, read)).body).toMatchObject({ stdout: scenario.state });
    } finally {
      await Promise.all([client.end(), locker.end()]);
      server.child.kill('SIGTERM');
      await waitForExit(server.child);
    }
  }, 240_000);

  it('an idempotency key answers a retry with the first result in every delivery mode, and refuses another body', async () => {
    const server = await startServer();
    try {
      const body = { language: 'bash', thread_id: 'counter', code: 'echo x >> runs.txt; wc -l < runs.txt' };
      const first = await execute(server.url, body, 'count-1');
      expect(first).toMatchObject({ status: 200, replayed: null, body: { status: 'success', stdout: '1\n' } });

      // The same body with keys in another order is the same request.
      const reordered = { code: body.code, thread_id: body.thread_id, language: body.language };
      const again = await execute(server.url, reordered, 'count-1');
      expect(again).toMatchObject({ status: 200, replayed: 'true', body: { trace_id: first.body.trace_id, stdout: '1\n' } });

      const streamed = await fetch(`${server.url}/v1/sandbox/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/x-ndjson', 'idempotency-key': 'count-1' },
        body: JSON.stringify(body),
      });
      expect(streamed.headers.get('idempotent-replayed')).toBe('true');
      const events = (await streamed.text()).trim().split('\n').map((line) => JSON.parse(line));
      expect(events.at(-1)).toMatchObject({ type: 'result', result: { trace_id: first.body.trace_id, stdout: '1\n' } });

      const mismatch = await execute(server.url, { ...body, code: 'echo other' }, 'count-1');
      expect(mismatch).toMatchObject({ status: 422, body: { error: 'idempotency_key_reused' } });
      const malformed = await execute(server.url, body, 'has space');
      expect(malformed).toMatchObject({ status: 400, body: { error: 'validation_error' } });

      // The thread saw exactly one run.
      expect((await execute(server.url, { language: 'bash', thread_id: 'counter', code: 'wc -l < runs.txt' })).body).toMatchObject({ stdout: '1\n' });
    } finally {
      server.child.kill('SIGTERM');
      await waitForExit(server.child);
    }
  }, 120_000);
});
