import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import { MigrationError, OrganizationRepository, loadMigrations, openDatabase } from './index.js';

const EXPECTED_TABLES = [
  'admin_tokens',
  'api_keys',
  'audit_chains',
  'audit_log',
  'connectors',
  'executions',
  'images',
  'memberships',
  'nodes',
  'organizations',
  'sandbox_configs',
  'sandbox_connectors',
  'schema_migrations',
  'sessions',
  'sign_in_flows',
  'sign_in_links',
  'storage_attachments',
  'storage_connections',
  'threads',
  'users',
  'volumes',
  'web_search_providers',
  'webhook_attempts',
  'webhook_deliveries',
];

describe.each(BACKEND_KINDS)('migrations on %s', (kind) => {
  const backend = new TestBackend(kind);

  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  it('applies every migration once and keeps data when the database is reopened', async () => {
    const options = await backend.freshDatabaseOptions();
    const known = await loadMigrations();

    const first = await openDatabase(options);
    const tables = await first.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.map((table) => table.table_name)).toEqual(EXPECTED_TABLES);
    const organization = await new OrganizationRepository(first).create({ name: 'Kept', slug: 'kept' });
    await first.close();

    const second = await openDatabase(options);
    const recorded = await second.query<{ version: number; name: string; applied_at: Date }>(
      'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
    );
    expect(recorded.map(({ version, name }) => ({ version, name }))).toEqual(
      known.map(({ version, name }) => ({ version, name })),
    );
    expect(recorded[0]?.applied_at).toBeInstanceOf(Date);
    expect(await new OrganizationRepository(second).get(organization.id)).toEqual(organization);
    await second.close();
  });

  it('refuses a database with a migration newer than this build knows', async () => {
    const options = await backend.freshDatabaseOptions();
    const database = await openDatabase(options);
    await database.query(`INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')`);
    await database.close();

    const failure = await openDatabase(options).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MigrationError);
    expect((failure as Error).message).toContain('9999_from_the_future');
    expect((failure as Error).message).toContain('newer than this build');
  });

  it.runIf(kind === 'postgres')('applies migrations once when several processes start at the same time', async () => {
    const options = await backend.freshDatabaseOptions();
    const databases = await Promise.all([openDatabase(options), openDatabase(options), openDatabase(options)]);
    try {
      const [first] = databases;
      const recorded = await first!.query('SELECT version FROM schema_migrations');
      expect(recorded).toHaveLength((await loadMigrations()).length);
      expect(await first!.query('SELECT count(*) AS tables FROM information_schema.tables WHERE table_name = $1', [
        'executions',
      ])).toEqual([{ tables: 1 }]);
    } finally {
      await Promise.all(databases.map((database) => database.close()));
    }
  });
});

describe('loadMigrations', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'airlock-migrations-'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  const directoryUrl = (name: string): URL => pathToFileURL(join(directory, name) + '/');

  it('reads the packaged files in version order', async () => {
    const migrations = await loadMigrations();
    expect(migrations[0]).toMatchObject({ version: 1, name: 'initial' });
    expect(migrations.map((migration) => migration.version)).toEqual(
      [...migrations.map((migration) => migration.version)].sort((left, right) => left - right),
    );
  });

  it('refuses misnamed files and duplicate versions', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(directory, 'misnamed'));
    await writeFile(join(directory, 'misnamed', '1_first.sql'), 'SELECT 1;');
    await expect(loadMigrations(directoryUrl('misnamed'))).rejects.toThrow('NNNN_name.sql');

    await mkdir(join(directory, 'duplicate'));
    await writeFile(join(directory, 'duplicate', '0001_first.sql'), 'SELECT 1;');
    await writeFile(join(directory, 'duplicate', '0001_second.sql'), 'SELECT 2;');
    await expect(loadMigrations(directoryUrl('duplicate'))).rejects.toThrow('version 0001');
  });
});
