import { readFile, readdir } from 'node:fs/promises';
import type { MigratableDatabase, ScriptQueryable } from './database.js';
import { MigrationError } from './errors.js';

/** One file of packages/db/migrations, named `NNNN_name.sql`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The migrations directory beside src/ and dist/, so the same URL works from sources and from the build. */
export const MIGRATIONS_DIRECTORY = new URL('../migrations/', import.meta.url);

const MIGRATION_FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/**
 * Key of the transaction-scoped advisory lock every migration step takes, so processes starting at the same time
 * against one PostgreSQL apply each migration exactly once.
 */
const MIGRATION_LOCK_KEY = 7_243_118_406;

/** Reads and orders the migration files; refuses names that do not match `NNNN_name.sql` and duplicate versions. */
export async function loadMigrations(directory: URL = MIGRATIONS_DIRECTORY): Promise<Migration[]> {
  const fileNames = (await readdir(directory)).filter((fileName) => fileName.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const fileName of fileNames) {
    const match = MIGRATION_FILE_PATTERN.exec(fileName);
    if (match === null) {
      throw new MigrationError(`migration file ${fileName} must be named NNNN_name.sql (lower-case name)`);
    }
    const version = Number(match[1]);
    if (migrations.some((migration) => migration.version === version)) {
      throw new MigrationError(`two migration files have version ${match[1]}; give each file its own number`);
    }
    migrations.push({ version, name: match[2] ?? '', sql: await readFile(new URL(fileName, directory), 'utf8') });
  }
  return migrations;
}

interface AppliedMigration {
  version: number;
  name: string;
}

async function lockMigrations(tx: ScriptQueryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
}

async function readAppliedMigrations(tx: ScriptQueryable): Promise<AppliedMigration[]> {
  const [table] = await tx.query<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  if (table?.present !== true) {
    await tx.query(
      `CREATE TABLE schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    return [];
  }
  return tx.query<AppliedMigration>('SELECT version, name FROM schema_migrations ORDER BY version');
}

function migrationFileName(migration: AppliedMigration): string {
  return `${String(migration.version).padStart(4, '0')}_${migration.name}`;
}

function assertNoUnknownMigrations(applied: readonly AppliedMigration[], known: readonly Migration[]): void {
  const newestKnown = known.reduce((newest, migration) => Math.max(newest, migration.version), 0);
  const unknown = applied.filter((migration) => migration.version > newestKnown);
  if (unknown.length > 0) {
    const names = unknown.map(migrationFileName);
    throw new MigrationError(
      `the database schema is newer than this build of Airlock: it has migration ${names.join(', ')}, but this ` +
        `build knows migrations up to ${String(newestKnown).padStart(4, '0')}. Upgrade Airlock to the version that ` +
        'created this database, or point it at another database.',
    );
  }
}

/**
 * Applies the pending migrations in version order, each in its own transaction together with its
 * schema_migrations row. Every step holds the migration advisory lock and re-reads schema_migrations under it,
 * so concurrent runners against one PostgreSQL wait for each other and skip what another has applied.
 * Returns the migrations this call applied.
 */
export async function runMigrations(
  database: MigratableDatabase,
  migrations?: readonly Migration[],
): Promise<Migration[]> {
  const known = migrations ?? (await loadMigrations());
  const appliedBefore = await database.transaction(async (tx) => {
    await lockMigrations(tx);
    const applied = await readAppliedMigrations(tx);
    assertNoUnknownMigrations(applied, known);
    return applied;
  });
  const appliedVersions = new Set(appliedBefore.map((migration) => migration.version));
  const appliedNow: Migration[] = [];
  for (const migration of known) {
    if (appliedVersions.has(migration.version)) continue;
    const applied = await database.transaction(async (tx) => {
      await lockMigrations(tx);
      const existing = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [migration.version]);
      if (existing.length > 0) return false;
      try {
        await tx.executeScript(migration.sql);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new MigrationError(`migration ${migrationFileName(migration)} failed: ${reason}`, { cause: error });
      }
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (applied) appliedNow.push(migration);
  }
  return appliedNow;
}
