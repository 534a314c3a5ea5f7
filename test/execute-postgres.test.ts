import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../packages/db/src/index.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { startPostgres, type PostgresServer } from './support/postgres-server.js';

let postgres: PostgresServer;
let airlock: AirlockFixture;
beforeAll(async () => {
  postgres = await startPostgres();
  airlock = await startAirlock({ environment: { DATABASE_URL: postgres.url } });
});
afterAll(async () => {
  await airlock?.close();
  await postgres?.stop();
});

it('runs and records executions in PostgreSQL', async () => {
  const result = await airlock.execute({ code: 'print("on postgres")', metadata: { run: 'pg' } });
  expect(result).toMatchObject({ stdout: 'on postgres\n', status: 'success' });
  const record = await airlock.request(`/v1/executions/${result.trace_id}`);
  expect(record.body).toMatchObject({ status: 'success', stdout: 'on postgres\n' });

  const database = await openDatabase({ url: postgres.url });
  try {
    const [row] = await database.query<{ metadata: unknown; peak_memory_bytes: number; cpu_time_ms: number; node_id: string }>(
      'SELECT metadata, peak_memory_bytes, cpu_time_ms, node_id FROM executions WHERE trace_id = $1',
      [result.trace_id],
    );
    expect(row?.metadata).toEqual({ run: 'pg' });
    expect(row?.peak_memory_bytes).toBeGreaterThan(1024 * 1024);
    expect(row?.cpu_time_ms).toBeGreaterThan(0);
    expect(row?.node_id).toMatch(/^node_/);
  } finally {
    await database.close();
  }
});
