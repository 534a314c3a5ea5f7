import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../../../test/support/postgres-server.js';
import type { OpenDatabaseOptions } from '../src/index.js';

export type BackendKind = 'pglite' | 'postgres';
/** The backends the database tests run on: AIRLOCK_TEST_BACKENDS (comma-separated), else both. */
export const BACKEND_KINDS: readonly BackendKind[] = (process.env.AIRLOCK_TEST_BACKENDS ?? 'pglite,postgres')
  .split(',')
  .filter((kind): kind is BackendKind => kind === 'pglite' || kind === 'postgres');

function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const manifest = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * An initialized, empty PGlite data directory shared by test files and runs (initdb in WASM takes seconds). It is
 * built in a temporary directory and renamed into place, so a partial build is never used.
 */
async function pgliteTemplate(): Promise<string> {
  const template = join(tmpdir(), `airlock-pglite-template-${pgliteVersion()}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const building = await mkdtemp(`${template}-building-`);
  try {
    const pglite = await PGlite.create(join(building, 'data'));
    await pglite.close();
    await rename(join(building, 'data'), template).catch((error: NodeJS.ErrnoException) => {
      // Another test file finished the same template first.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return template;
}

/**
 * Hands out empty databases of one kind. PGlite: copies of a cached initialized data directory. PostgreSQL: new
 * databases on one throwaway server.
 */
export class TestBackend {
  readonly kind: BackendKind;
  #rootDirectory: string | undefined;
  #template: string | undefined;
  #server: PostgresServer | undefined;

  constructor(kind: BackendKind) {
    this.kind = kind;
  }

  async start(): Promise<void> {
    if (this.kind === 'postgres') {
      this.#server = await startPostgres();
      return;
    }
    this.#template = await pgliteTemplate();
    this.#rootDirectory = await mkdtemp(join(tmpdir(), 'airlock-pglite-'));
  }

  /** openDatabase options for a new, empty (unmigrated) database. */
  async freshDatabaseOptions(): Promise<OpenDatabaseOptions> {
    const name = `fresh_${randomBytes(6).toString('hex')}`;
    if (this.#server !== undefined) {
      const client = new pg.Client({ connectionString: this.#server.url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      const url = new URL(this.#server.url);
      url.pathname = `/${name}`;
      return { url: url.toString() };
    }
    if (this.#rootDirectory === undefined || this.#template === undefined) throw new Error('call start() first');
    const dataDir = join(this.#rootDirectory, name);
    await cp(this.#template, dataDir, { recursive: true });
    return { dataDir };
  }

  async stop(): Promise<void> {
    await this.#server?.stop();
    if (this.#rootDirectory !== undefined) await rm(this.#rootDirectory, { recursive: true, force: true });
  }
}
