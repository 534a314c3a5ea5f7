// Memory of the embedded database's process (packages/db/pglite-host.mjs) through openDatabase, the path the server
// takes: on a new data directory, on reopening it, and after a burst of queries. Each run uses a new directory.
//
//   npx vite-node bench/pglite-memory.ts [--runs N] [--rounds N]
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, type Database } from '@airlock/db';
import { percentile } from './percentiles.js';
import { formatMiB, formatMs, formatRate } from './units.js';

const COMMAND = 'npx vite-node bench/pglite-memory.ts';
const SAMPLE_INTERVAL_MS = 10;
/** Characters of each row the burst writes: about an execution record with some output. */
const ROW_CHARS = 4_000;

interface ProcessMemory {
  rssKiB: number;
  peakKiB: number;
}

function statusKiB(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match === null) throw new Error(`no ${field} line in /proc/<pid>/status; this kernel does not report it`);
  return Number(match[1]);
}

/** RSS and peak RSS of the children of this process running pglite-host.mjs, by pid. */
function hostProcesses(): Map<number, ProcessMemory> {
  const hosts = new Map<number, ProcessMemory>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('pglite-host.mjs')) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      hosts.set(Number(entry), { rssKiB: statusKiB(status, 'VmRSS'), peakKiB: statusKiB(status, 'VmHWM') });
    } catch (error) {
      // The process exited between listing and reading.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  return hosts;
}

/** The one process serving the open database. */
function servingHost(): ProcessMemory {
  const hosts = [...hostProcesses().values()];
  if (hosts.length !== 1) throw new Error(`expected one pglite-host.mjs process, found ${hosts.length}`);
  return hosts[0]!;
}

/**
 * Opens the database while sampling its processes; returns it with the highest peak RSS any of them reached and how
 * long the open took.
 */
async function openWatched(dataDir: string): Promise<{ database: Database; peakKiB: number; milliseconds: number }> {
  let peakKiB = 0;
  const sample = (): void => {
    for (const host of hostProcesses().values()) peakKiB = Math.max(peakKiB, host.peakKiB);
  };
  const sampler = setInterval(sample, SAMPLE_INTERVAL_MS);
  const started = performance.now();
  try {
    const database = await openDatabase({ dataDir });
    const milliseconds = performance.now() - started;
    sample();
    return { database, peakKiB, milliseconds };
  } finally {
    clearInterval(sampler);
  }
}

/** Per round: insert a row, read it back, list the newest rows of its group, update it. Returns statements per second. */
async function burst(database: Database, rounds: number): Promise<number> {
  await database.query(
    'CREATE TABLE bench_rows (id bigserial PRIMARY KEY, grp text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())',
  );
  await database.query('CREATE INDEX ON bench_rows (grp, created_at)');
  const body = 'x'.repeat(ROW_CHARS);
  const started = performance.now();
  for (let round = 0; round < rounds; round += 1) {
    const group = `group-${round % 10}`;
    const [row] = await database.query<{ id: string }>('INSERT INTO bench_rows (grp, body) VALUES ($1, $2) RETURNING id', [group, body]);
    await database.query('SELECT * FROM bench_rows WHERE id = $1', [row!.id]);
    await database.query('SELECT id, created_at FROM bench_rows WHERE grp = $1 ORDER BY created_at DESC LIMIT 20', [group]);
    await database.query('UPDATE bench_rows SET body = $2 WHERE id = $1', [row!.id, 'done']);
  }
  return (rounds * 4) / ((performance.now() - started) / 1000);
}

interface RunResult {
  firstStartMs: number;
  restartMs: number;
  firstStartPeakKiB: number;
  firstStartKiB: number;
  restartKiB: number;
  afterBurstKiB: number;
  afterBurstPeakKiB: number;
  statementsPerSecond: number;
}

async function measureRun(rounds: number): Promise<RunResult> {
  const root = await mkdtemp(join(tmpdir(), 'airlock-bench-pglite-'));
  const dataDir = join(root, 'data');
  try {
    const first = await openWatched(dataDir);
    const firstStartKiB = servingHost().rssKiB;
    await first.database.close();

    const { database, milliseconds: restartMs } = await openWatched(dataDir);
    try {
      const restartKiB = servingHost().rssKiB;
      const statementsPerSecond = await burst(database, rounds);
      const afterBurst = servingHost();
      return {
        firstStartMs: first.milliseconds,
        restartMs,
        firstStartPeakKiB: first.peakKiB,
        firstStartKiB,
        restartKiB,
        afterBurstKiB: afterBurst.rssKiB,
        afterBurstPeakKiB: afterBurst.peakKiB,
        statementsPerSecond,
      };
    } finally {
      await database.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function pgliteVersion(): string {
  const entry = createRequire(join(process.cwd(), 'packages/db/package.json')).resolve('@electric-sql/pglite');
  return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
}

function wholeNumber(value: string, name: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`--${name} must be a whole number >= 1, got "${value}"`);
  return number;
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, rounds: { type: 'string', default: '2000' } } });
const runs = wholeNumber(values.runs, 'runs');
const rounds = wholeNumber(values.rounds, 'rounds');

const results: RunResult[] = [];
for (let run = 1; run <= runs; run += 1) {
  results.push(await measureRun(rounds));
  process.stderr.write(`run ${run}/${runs} done\n`);
}

const rows: Array<[string, (result: RunResult) => number, (value: number) => string]> = [
  ['first start (new data directory): peak RSS of any database process', (result) => result.firstStartPeakKiB, formatMiB],
  ['first start: RSS of the serving process, migrations applied', (result) => result.firstStartKiB, formatMiB],
  ['restart (existing data directory): RSS', (result) => result.restartKiB, formatMiB],
  [`after ${rounds * 4} statements: RSS`, (result) => result.afterBurstKiB, formatMiB],
  [`after ${rounds * 4} statements: peak RSS`, (result) => result.afterBurstPeakKiB, formatMiB],
  ['burst rate (one connection, sequential)', (result) => result.statementsPerSecond, formatRate],
  ['first start: openDatabase time (initdb, start, migrations)', (result) => result.firstStartMs, formatMs],
  ['restart: openDatabase time', (result) => result.restartMs, formatMs],
];
const lines = [
  `${COMMAND} --runs ${runs} --rounds ${rounds}`,
  `PGlite ${pgliteVersion()}, node ${process.version}, ${cpus().length} x ${cpus()[0]?.model.trim() ?? 'unknown'}, ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}`,
  '',
  `| metric | median of ${runs} | runs |`,
  '| --- | --- | --- |',
  ...rows.map(([metric, pick, format]) => {
    const samples = results.map(pick);
    return `| ${metric} | ${format(percentile(samples, 50))} | ${samples.map(format).join(', ')} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
