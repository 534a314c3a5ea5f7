/**
 * The audit log and retention (docs/benchmarks.md, section 15; docs/decisions/0029-audit-log-and-operators.md), on the
 * embedded database and on PostgreSQL (a throwaway server from Debian's binaries), in one run:
 *
 *   npx vite-node bench/audit.ts [--iterations 500] [--chain 10000]
 *
 * - appending one audit entry (lock the chain's head, make the month's partition if missing, insert, move the head;
 *   one transaction) against one plain single-row INSERT of the same size, interleaved, p50 each;
 * - verifying a chain of `--chain` entries (read in pages of 500, every hash recomputed), entries per second;
 * - the execution retention sweep deleting `--chain` expired executions in batches, executions per second.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditRepository, ExecutionRepository, OrganizationRepository, generateId, openDatabase, type Database, type NewAuditEntry } from '@airlock/db';
import { auditHash } from '../packages/server/src/audit/audit-chain.js';
import { AuditService } from '../packages/server/src/audit/audit-service.js';
import { ExecutionRetentionSweep } from '../packages/server/src/retention/execution-retention.js';
import { silentLogger } from '../packages/server/src/shared/logger.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { percentile } from './percentiles.js';
import { formatMs } from './units.js';

const COMMAND = 'npx vite-node bench/audit.ts';

const entry = (orgId: string, index: number): NewAuditEntry => ({
  orgId,
  actor: 'bench@example.com',
  authMethod: 'session',
  action: 'sandbox.update',
  targetType: 'sandbox',
  targetId: `sandbox-${index}`,
  outcome: 'success',
  reason: null,
  changes: { cpu: { before: 1, after: 2 }, memory_mb: { before: 1024, after: 2048 } },
  ip: '127.0.0.1',
  userAgent: 'bench',
  requestId: `req_${index}`,
});

interface Measured {
  appendP50: number;
  insertP50: number;
  verifyPerSecond: number;
  verifyMs: number;
  sweepPerSecond: number;
  sweepMs: number;
}

async function measure(database: Database, options: { iterations: number; chain: number }): Promise<Measured> {
  const organizations = new OrganizationRepository(database);
  const audit = new AuditRepository(database);
  await database.query('CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, org_id text, payload jsonb, created_at timestamptz DEFAULT now())');
  const orgId = (await organizations.create({ name: 'Bench', slug: `bench-${randomBytes(3).toString('hex')}` })).id;
  const appends: number[] = [];
  const inserts: number[] = [];
  for (let index = 0; index < options.iterations; index += 1) {
    let started = performance.now();
    await audit.append(entry(orgId, index), auditHash);
    appends.push(performance.now() - started);
    started = performance.now();
    await database.query('INSERT INTO bench_baseline (org_id, payload) VALUES ($1, $2)', [orgId, JSON.stringify(entry(orgId, index))]);
    inserts.push(performance.now() - started);
  }

  const chainOrg = (await organizations.create({ name: 'Chain', slug: `chain-${randomBytes(3).toString('hex')}` })).id;
  for (let index = 0; index < options.chain; index += 1) await audit.append(entry(chainOrg, index), auditHash);
  const service = new AuditService({ repository: audit, logger: silentLogger });
  let started = performance.now();
  const report = await service.verify([chainOrg]);
  const verifyMs = performance.now() - started;
  if (!report.ok || report.chains[0]?.entries !== options.chain) throw new Error(`verification failed: ${JSON.stringify(report)}`);

  const executions = new ExecutionRepository(database);
  const old = new Date(Date.now() - 40 * 86_400_000);
  for (let index = 0; index < options.chain; index += 1) {
    const traceId = generateId('execution');
    await executions.insertRunning({ traceId, orgId, apiKeyId: null, sandboxConfigId: null, language: 'bash', code: 'echo', deliveryMode: 'inline', createdAt: old });
    await executions.complete(traceId, {
      status: 'success', exitCode: 0, errorCode: null, error: null, stdout: 'x\n', stderr: '', stdoutTruncated: false, stderrTruncated: false,
      warm: true, durationMs: 1, overheadMs: 1, peakMemoryBytes: 1, cpuTimeMs: 1, resultSeq: 2, startedAt: old, completedAt: old, network: null, storageSync: null,
    });
  }
  const sweep = new ExecutionRetentionSweep({ executions, audit: { record: (audited) => audit.append(audited, auditHash) } });
  started = performance.now();
  let deleted = 0;
  for (let pass = 0; deleted < options.chain && pass < 10; pass += 1) deleted += await sweep.sweep();
  const sweepMs = performance.now() - started;
  if (deleted !== options.chain) throw new Error(`the sweep deleted ${deleted} of ${options.chain} executions`);
  return {
    appendP50: percentile(appends, 50),
    insertP50: percentile(inserts, 50),
    verifyMs,
    verifyPerSecond: options.chain / (verifyMs / 1000),
    sweepMs,
    sweepPerSecond: options.chain / (sweepMs / 1000),
  };
}

async function run(options: { iterations: number; chain: number }): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'airlock-bench-audit-'));
  const postgres = await startPostgres();
  const results: Array<[string, Measured]> = [];
  try {
    for (const [name, open] of [
      ['embedded (PGlite)', () => openDatabase({ dataDir: join(directory, 'pglite') })],
      ['PostgreSQL 15', () => openDatabase({ url: postgres.url })],
    ] as const) {
      process.stderr.write(`measuring on ${name}...\n`);
      const database = await open();
      try {
        results.push([name, await measure(database, options)]);
      } finally {
        await database.close();
      }
    }
  } finally {
    await postgres.stop();
    await rm(directory, { recursive: true, force: true });
  }
  const rows = results.flatMap(([name, measured]) => [
    `| ${name}: append one audit entry, p50 (${options.iterations}) | ${formatMs(measured.appendP50)} |`,
    `| ${name}: one plain INSERT of the same row, p50 | ${formatMs(measured.insertP50)} |`,
    `| ${name}: append / INSERT | ${(measured.appendP50 / measured.insertP50).toFixed(2)}x |`,
    `| ${name}: verify a chain of ${options.chain} entries | ${formatMs(measured.verifyMs)} (${Math.round(measured.verifyPerSecond)} entries/s) |`,
    `| ${name}: sweep ${options.chain} expired executions | ${formatMs(measured.sweepMs)} (${Math.round(measured.sweepPerSecond)} executions/s) |`,
  ]);
  return [`${COMMAND} --iterations ${options.iterations} --chain ${options.chain}`, '', '| metric | value |', '| --- | --- |', ...rows].join('\n');
}

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '500' }, chain: { type: 'string', default: '10000' } } });
process.stdout.write(`${await run({ iterations: Number(values.iterations), chain: Number(values.chain) })}\n`);
