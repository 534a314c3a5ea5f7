import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { startPostgres, type PostgresServer } from './support/postgres-server.js';

// On PostgreSQL with split roles: the owner role migrates and ages the audit log; the server's own role may only
// insert into and read it, so even the server's credentials cannot change, delete, truncate or drop audit entries.
let postgres: PostgresServer;
let airlock: AirlockFixture;
let asApplication: pg.Client;
let asOwner: pg.Client;

function roleUrl(role: string): string {
  const url = new URL(postgres.url);
  url.username = role;
  url.pathname = '/airlock_roles';
  return url.toString();
}

beforeAll(async () => {
  postgres = await startPostgres();
  const superuser = new pg.Client({ connectionString: postgres.url });
  await superuser.connect();
  try {
    await superuser.query('CREATE ROLE airlock_owner LOGIN');
    await superuser.query('CREATE ROLE airlock_app LOGIN');
    await superuser.query('CREATE DATABASE airlock_roles OWNER airlock_owner');
  } finally {
    await superuser.end();
  }
  airlock = await startAirlock({ environment: { DATABASE_URL: roleUrl('airlock_app'), AIRLOCK_DATABASE_OWNER_URL: roleUrl('airlock_owner') } });
  asApplication = new pg.Client({ connectionString: roleUrl('airlock_app') });
  asOwner = new pg.Client({ connectionString: roleUrl('airlock_owner') });
  await asApplication.connect();
  await asOwner.connect();
});

afterAll(async () => {
  await asApplication?.end();
  await asOwner?.end();
  await airlock?.close();
  await postgres?.stop();
});

it("the server's role records and reads audit entries but cannot change, delete, truncate or drop them", async () => {
  const created = await airlock.request('/admin/v1/sandboxes', { method: 'POST', apiKey: airlock.adminToken, json: { name: 'roles' } });
  expect(created.status).toBe(201);
  const ran = await airlock.request<{ stdout: string }>('/v1/sandbox/execute', { method: 'POST', json: { language: 'bash', code: 'echo ok' } });
  expect(ran.body.stdout).toBe('ok\n');

  const { rows: owners } = await asApplication.query<{ owner: string }>("SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'executions'");
  expect(owners).toEqual([{ owner: 'airlock_owner' }]);
  const { rows: partitions } = await asApplication.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_class c WHERE c.relname LIKE 'audit_log\\_org\\_%' AND c.relispartition AND c.relkind IN ('r', 'p') ORDER BY c.relname",
  );
  expect(partitions.length).toBeGreaterThanOrEqual(2); // the organization's chain and its month
  const { rows: counted } = await asApplication.query<{ entries: number }>("SELECT count(*)::int AS entries FROM audit_log WHERE action = 'sandbox.create'");
  expect(counted).toEqual([{ entries: 1 }]);

  for (const table of ['audit_log', ...partitions.map((partition) => partition.name)]) {
    for (const statement of [`UPDATE ${table} SET actor = 'mallory'`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
      await expect(asApplication.query(statement), statement).rejects.toThrow(/permission denied/);
    }
  }
  for (const partition of partitions) {
    for (const statement of [`ALTER TABLE ${partition.name} DISABLE TRIGGER USER`, `DROP TABLE ${partition.name}`, `ALTER TABLE audit_log DETACH PARTITION ${partition.name}`]) {
      await expect(asApplication.query(statement), statement).rejects.toThrow(/must be owner|permission denied/);
    }
  }
  await expect(asApplication.query('DROP TABLE audit_log')).rejects.toThrow(/must be owner/);
  // The owner is held back by the triggers; only retention (whole months, with an anchor) removes entries.
  await expect(asOwner.query(`UPDATE audit_log SET actor = 'mallory'`)).rejects.toThrow(/append-only/);
  await expect(asOwner.query(`TRUNCATE ${partitions[0]?.name ?? ''}`)).rejects.toThrow(/append-only/);

  expect((await airlock.server.sweep()).droppedAuditPartitions).toBe(0);
  const verified = await airlock.request<{ ok: boolean }>('/admin/v1/audit/verify', { method: 'POST', apiKey: airlock.adminToken, json: {} });
  expect(verified.body.ok).toBe(true);
});

it('a superuser who disables the triggers to change an entry is found by verification', async () => {
  const superuser = new pg.Client({ connectionString: roleUrl('postgres') });
  await superuser.connect();
  try {
    await superuser.query("SET session_replication_role = 'replica'");
    const { rowCount } = await superuser.query("UPDATE audit_log SET actor = 'someone-else' WHERE action = 'sandbox.create' AND target_id = 'roles'");
    expect(rowCount).toBe(1);
  } finally {
    await superuser.end();
  }
  const verified = await airlock.request<{ ok: boolean; chains: Array<{ ok: boolean; broken: { seq: number; reason: string } | null }> }>(
    '/admin/v1/audit/verify',
    { method: 'POST', apiKey: airlock.adminToken, json: {} },
  );
  expect(verified.body.ok).toBe(false);
  expect(verified.body.chains.find((chain) => !chain.ok)?.broken).toEqual({ seq: expect.any(Number), reason: expect.stringMatching(/does not match its hash/) });
});
