import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBackend } from '../test/test-backend.js';
import { DatabaseUsageError, openDatabase } from './index.js';
import { startPgliteHost } from './pglite-host.js';
import { openPostgresDatabase } from './postgres-database.js';

const HOST_SCRIPT = fileURLToPath(new URL('../pglite-host.mjs', import.meta.url));

/** State letter and parent pid of a process, from /proc; undefined once it is gone. */
async function processStatus(pid: number): Promise<{ state: string; parentPid: number } | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  const [state = '', parentPid = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, parentPid: Number(parentPid) };
}

async function isRunning(pid: number): Promise<boolean> {
  const status = await processStatus(pid);
  return status !== undefined && status.state !== 'Z';
}

/** Children of this process running pglite-host.mjs. */
async function hostProcessIds(): Promise<number[]> {
  const ids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || (await processStatus(Number(entry)))?.parentPid !== process.pid) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.includes('pglite-host.mjs')) ids.push(Number(entry));
  }
  return ids;
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(20);
  }
  return condition();
}

describe('embedded PGlite database', () => {
  const backend = new TestBackend('pglite');

  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  it('is served by a child process that outlives Ctrl-C and SIGTERM while open, and stops on close()', async () => {
    const database = await openDatabase(await backend.freshDatabaseOptions());
    const hosts = await hostProcessIds();
    try {
      expect(hosts).toHaveLength(1);
      process.kill(hosts[0]!, 'SIGINT');
      process.kill(hosts[0]!, 'SIGTERM');
      await sleep(100);
      expect(await database.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await database.close();
    }
    expect(await isRunning(hosts[0]!)).toBe(false);
  });

  it('creates a new data directory in a process of its own, so the serving process holds no memory of initdb', async () => {
    const { dataDir } = await backend.freshDatabaseOptions();
    await rm(dataDir!, { recursive: true });
    // What an initdb stopped half-way leaves: its staging directory, which the next start starts over.
    await mkdir(`${dataDir}.initializing`);
    await writeFile(`${dataDir}.initializing/PG_VERSION`, '17');
    const database = await openDatabase({ dataDir });
    try {
      expect(await readdir(join(dataDir!, '..'))).not.toContain(`${basename(dataDir!)}.initializing`);
      expect((await stat(dataDir!)).mode & 0o777).toBe(0o700);
      const [host] = await hostProcessIds();
      const status = await readFile(`/proc/${host}/status`, 'utf8');
      const peakMiB = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
      // initdb in the serving process takes about 800 MiB; serving alone about 200 MiB (docs/benchmarks.md, 9).
      expect(peakMiB).toBeLessThan(400);
      const [migrations] = await database.query<{ applied: number }>('SELECT count(*)::int AS applied FROM schema_migrations');
      expect(migrations?.applied).toBeGreaterThan(0);
    } finally {
      await database.close();
    }
  });

  it('prepares repeated statements by name; a new connection to the same session drops the names an earlier one made', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'airlock-pglite-named-'));
    const host = await startPgliteHost(directory);
    const prepared = 'SELECT count(*)::int AS prepared FROM pg_prepared_statements';
    try {
      for (const connection of [1, 2]) {
        const database = await openPostgresDatabase({ url: host.url, poolSize: 1, onIdleConnectionError: undefined, namedStatements: true });
        try {
          const answers = [];
          for (let run = 0; run < 3; run++) answers.push(await database.query<{ n: number }>('SELECT $1::int + 1 AS n', [run]));
          expect(answers, `connection ${connection}`).toEqual([[{ n: 1 }], [{ n: 2 }], [{ n: 3 }]]);
          // The statement, and the count itself from its second run on.
          await database.query(prepared);
          expect(await database.query(prepared), `connection ${connection}`).toEqual([{ prepared: 2 }]);
        } finally {
          await database.close();
        }
      }
    } finally {
      await host.stop();
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('refuses a second open of the same directory while the first is open', async () => {
    const options = await backend.freshDatabaseOptions();
    const database = await openDatabase(options);
    try {
      await expect(openDatabase(options)).rejects.toBeInstanceOf(DatabaseUsageError);
    } finally {
      await database.close();
    }
  });

  it('names the dead database process in query errors, and close() still frees the directory', async () => {
    const options = await backend.freshDatabaseOptions();
    const database = await openDatabase(options);
    const [host] = await hostProcessIds();
    process.kill(host!, 'SIGKILL');
    const queryFailure = async (): Promise<string> =>
      database.query('SELECT 1').then(() => '', (error: Error) => error.message);
    expect(await until(async () => /process was killed by SIGKILL/.test(await queryFailure()), 5_000)).toBe(true);
    await database.close();

    const reopened = await openDatabase(options);
    expect(await reopened.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await reopened.close();
  });

  it('reports why PGlite could not start and releases the directory', async () => {
    const { dataDir } = await backend.freshDatabaseOptions();
    await writeFile(join(dataDir!, 'PG_VERSION'), '9\n');
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const failure = await openDatabase({ dataDir }).catch((error: unknown) => error);
      expect(failure).not.toBeInstanceOf(DatabaseUsageError);
      expect((failure as Error).message).toMatch(/^the embedded PGlite database in .* did not start: it reported: /);
    }
  });

  it('stops when the process that started it is killed', async () => {
    const { dataDir } = await backend.freshDatabaseOptions();
    const socketDirectory = await mkdtemp(join(tmpdir(), 'airlock-db-test-'));
    const starter = `
      import { fork } from 'node:child_process';
      const [script, ...args] = process.argv.slice(1);
      const host = fork(script, args, { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      host.on('message', () => console.log(host.pid));`;
    const parent = spawn(
      process.execPath,
      ['--input-type=module', '-e', starter, HOST_SCRIPT, 'serve', dataDir!, join(socketDirectory, '.s.PGSQL.5432')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const hostPid = await new Promise<number>((resolve, reject) => {
        parent.stdout.once('data', (chunk: Buffer) => resolve(Number.parseInt(chunk.toString(), 10)));
        parent.once('exit', () => reject(new Error('the starting process exited before the host was ready')));
      });
      expect(await isRunning(hostPid)).toBe(true);
      parent.kill('SIGKILL');
      expect(await until(async () => !(await isRunning(hostPid)), 10_000)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      await rm(socketDirectory, { recursive: true, force: true });
    }
  });
});
