import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import {
  DatabaseUsageError,
  TransactionAbortedError,
  UniqueViolationError,
  openDatabase,
  type Database,
  type Queryable,
} from './index.js';

describe.each(BACKEND_KINDS)('database on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    await database.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL UNIQUE)');
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  it('reports its kind', () => {
    expect(database.kind).toBe(kind);
  });

  it('returns the same JavaScript values for each column type', async () => {
    const [row] = await database.query(
      `SELECT
         '2024-05-06 07:08:09.123456+00'::timestamptz AS stamp,
         9007199254740991::int8 AS safe_big,
         9007199254740993::int8 AS unsafe_big,
         count(*) AS counted,
         1.25::numeric(4,2) AS decimal,
         7::int4 AS small,
         1.5::float8 AS fractional,
         true AS flag,
         '{"a":[1,"x",null]}'::jsonb AS document,
         '[1,2]'::json AS list,
         '\\x00ff'::bytea AS bytes,
         '2024-02-29'::date AS day,
         NULL::text AS nothing,
         $1::jsonb AS parameter_document,
         $2::timestamptz AS parameter_stamp,
         $3::bytea AS parameter_bytes,
         $4::text AS undefined_parameter
       FROM (VALUES (1), (2)) AS numbers (n)`,
      [
        JSON.stringify({ nested: { value: 'é' } }),
        new Date('2030-01-02T03:04:05.678Z'),
        Buffer.from([1, 2, 3]),
        undefined,
      ],
    );
    expect(row).toEqual({
      stamp: new Date('2024-05-06T07:08:09.123Z'),
      safe_big: 9007199254740991,
      unsafe_big: 9007199254740993n,
      counted: 2,
      decimal: 1.25,
      small: 7,
      fractional: 1.5,
      flag: true,
      document: { a: [1, 'x', null] },
      list: [1, 2],
      bytes: Buffer.from([0, 255]),
      day: '2024-02-29',
      nothing: null,
      parameter_document: { nested: { value: 'é' } },
      parameter_stamp: new Date('2030-01-02T03:04:05.678Z'),
      parameter_bytes: Buffer.from([1, 2, 3]),
      undefined_parameter: null,
    });
    expect(Buffer.isBuffer(row?.bytes)).toBe(true);
  });

  it('runs one statement per query call', async () => {
    await expect(database.query('SELECT 1; SELECT 2')).rejects.toThrow(/multiple commands/);
  });

  it('raises UniqueViolationError with the constraint name', async () => {
    await database.query('INSERT INTO notes (body) VALUES ($1)', ['unique-once']);
    const failure = await database.query('INSERT INTO notes (body) VALUES ($1)', ['unique-once']).catch((e) => e);
    expect(failure).toBeInstanceOf(UniqueViolationError);
    expect(failure).toMatchObject({ constraint: 'notes_body_key', table: 'notes' });
    expect((failure as UniqueViolationError).detail).toContain('unique-once');
  });

  it('raises UniqueViolationError from inside a transaction', async () => {
    await database.query('INSERT INTO notes (body) VALUES ($1)', ['unique-in-transaction']);
    const failure = await database
      .transaction((tx) => tx.query('INSERT INTO notes (body) VALUES ($1)', ['unique-in-transaction']))
      .catch((e) => e);
    expect(failure).toBeInstanceOf(UniqueViolationError);
  });

  it('commits a transaction whose work resolves', async () => {
    const result = await database.transaction(async (tx) => {
      await tx.query('INSERT INTO notes (body) VALUES ($1)', ['committed']);
      return 'done';
    });
    expect(result).toBe('done');
    expect(await database.query('SELECT body FROM notes WHERE body = $1', ['committed'])).toHaveLength(1);
  });

  it('rolls back a transaction whose work throws, and rethrows the error', async () => {
    const failure = new Error('work failed');
    await expect(
      database.transaction(async (tx) => {
        await tx.query('INSERT INTO notes (body) VALUES ($1)', ['rolled-back']);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await database.query('SELECT body FROM notes WHERE body = $1', ['rolled-back'])).toEqual([]);
  });

  it('raises TransactionAbortedError when work swallows a failed statement', async () => {
    await database.query('INSERT INTO notes (body) VALUES ($1)', ['swallowed']);
    await expect(
      database.transaction(async (tx) => {
        await tx.query('INSERT INTO notes (body) VALUES ($1)', ['aborted-write']);
        await tx.query('INSERT INTO notes (body) VALUES ($1)', ['swallowed']).catch(() => undefined);
      }),
    ).rejects.toBeInstanceOf(TransactionAbortedError);
    expect(await database.query('SELECT body FROM notes WHERE body = $1', ['aborted-write'])).toEqual([]);
  });

  it('refuses the database itself inside a transaction, and a handle after its transaction', async () => {
    let leakedHandle: Queryable | undefined;
    await expect(
      database.transaction(async (tx) => {
        leakedHandle = tx;
        await database.query('SELECT 1');
      }),
    ).rejects.toBeInstanceOf(DatabaseUsageError);
    await expect(database.transaction(() => database.transaction(async () => 1))).rejects.toBeInstanceOf(
      DatabaseUsageError,
    );
    await expect(leakedHandle?.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUsageError);
    expect(await database.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('runs concurrent transactions and statements to completion without interleaving a transaction', async () => {
    await database.query('CREATE TABLE events (position serial PRIMARY KEY, label text NOT NULL)');
    const insertPair = (name: string): Promise<void> =>
      database.transaction(async (tx) => {
        await tx.query('INSERT INTO events (label) VALUES ($1)', [`${name}-first`]);
        await sleep(15);
        await tx.query('INSERT INTO events (label) VALUES ($1)', [`${name}-second`]);
      });
    await Promise.all([
      insertPair('a'),
      insertPair('b'),
      database.query('INSERT INTO events (label) VALUES ($1)', ['plain']),
      insertPair('c'),
    ]);
    const labels = (await database.query<{ label: string }>('SELECT label FROM events ORDER BY position')).map(
      (row) => row.label,
    );
    expect(labels).toHaveLength(7);
    if (kind === 'pglite') {
      // One connection: each transaction's statements are adjacent, in call order.
      expect(labels).toEqual(['a-first', 'a-second', 'b-first', 'b-second', 'plain', 'c-first', 'c-second']);
    }
  });
});

describe('openDatabase', () => {
  it('needs a url or a data directory', async () => {
    await expect(openDatabase({})).rejects.toThrow('needs either url');
    await expect(openDatabase({ url: 'mysql://localhost/x' })).rejects.toThrow('postgres://');
  });

  it('names the server, not the password, when PostgreSQL is unreachable', async () => {
    const failure = await openDatabase({ url: 'postgres://airlock:hunter2@127.0.0.1:1/airlock' }).catch((e) => e);
    expect((failure as Error).message).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/airlock:\*\*\*@127\.0\.0\.1:1/);
    expect((failure as Error).message).not.toContain('hunter2');
  });
});
