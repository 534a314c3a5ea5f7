import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import { OrganizationRepository, ThreadRepository, UsageRepository, VolumeRepository, openDatabase, type Database } from './index.js';

/** An execution as the usage query reads it, accepted at `at`. */
interface Run {
  at: string;
  status: string;
  durationMs?: number | null;
  cpuTimeMs?: number | null;
}

describe.each(BACKEND_KINDS)('usage repository on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let usage: UsageRepository;
  let orgId: string;
  let otherOrgId: string;
  let runs = 0;

  const insert = (organization: string, run: Run) =>
    database.query(
      `INSERT INTO executions (trace_id, org_id, language, code, status, delivery_mode, duration_ms, cpu_time_ms, created_at)
       VALUES ($1, $2, 'python', 'pass', $3, 'inline', $4, $5, $6)`,
      [`trc_usage_${kind}_${(runs += 1)}`, organization, run.status, run.durationMs ?? null, run.cpuTimeMs ?? null, new Date(run.at)],
    );

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    usage = new UsageRepository(database);
    const organizations = new OrganizationRepository(database);
    orgId = (await organizations.create({ name: 'Measured', slug: 'measured' })).id;
    otherOrgId = (await organizations.create({ name: 'Other', slug: 'other' })).id;
    const measured: Run[] = [
      // Before the range: its last second.
      { at: '2026-03-09T23:59:59.999Z', status: 'success', durationMs: 1, cpuTimeMs: 1 },
      // 2026-03-10: durations 10, 20, 30, 40 and one still running.
      { at: '2026-03-10T00:00:00Z', status: 'success', durationMs: 10, cpuTimeMs: 100 },
      { at: '2026-03-10T08:00:00Z', status: 'success', durationMs: 20, cpuTimeMs: 200 },
      { at: '2026-03-10T12:00:00Z', status: 'failed', durationMs: 30, cpuTimeMs: 300 },
      { at: '2026-03-10T23:59:59Z', status: 'timeout', durationMs: 40, cpuTimeMs: null },
      { at: '2026-03-10T23:59:59.5Z', status: 'running' },
      // 2026-03-12: one OOM.
      { at: '2026-03-12T05:00:00Z', status: 'oom', durationMs: 1000, cpuTimeMs: 2500 },
      // After the range: its first instant.
      { at: '2026-03-13T00:00:00Z', status: 'success', durationMs: 5, cpuTimeMs: 5 },
    ];
    for (const run of measured) await insert(orgId, run);
    await insert(otherOrgId, { at: '2026-03-11T10:00:00Z', status: 'success', durationMs: 7, cpuTimeMs: 7 });
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  it('counts each UTC day of the range by status, with its duration percentiles and CPU time, days without executions as zeros', async () => {
    const report = await usage.report({ orgId, firstDay: '2026-03-10', lastDay: '2026-03-12' });
    expect(report.days).toEqual([
      {
        day: '2026-03-10',
        executions: 5,
        byStatus: { success: 2, failed: 1, timeout: 1, running: 1 },
        // Interpolated over the four finished: 10, 20, 30, 40.
        p50DurationMs: 25,
        p95DurationMs: 38.5,
        cpuTimeMs: 600,
      },
      { day: '2026-03-11', executions: 0, byStatus: {}, p50DurationMs: null, p95DurationMs: null, cpuTimeMs: 0 },
      { day: '2026-03-12', executions: 1, byStatus: { oom: 1 }, p50DurationMs: 1000, p95DurationMs: 1000, cpuTimeMs: 2500 },
    ]);
    // The range's percentiles are over its five finished executions: 10, 20, 30, 40, 1000.
    expect(report.range).toEqual({
      executions: 6,
      byStatus: { success: 2, failed: 1, timeout: 1, running: 1, oom: 1 },
      p50DurationMs: 30,
      p95DurationMs: 808,
      cpuTimeMs: 3100,
    });
  });

  it("counts by UTC days whatever the session's time zone", async () => {
    const utc = await usage.report({ orgId, firstDay: '2026-03-09', lastDay: '2026-03-13' });
    for (const zone of ['Pacific/Chatham', 'America/St_Johns']) {
      const zoned = await database.transaction(async (tx) => {
        await tx.query(`SET LOCAL TimeZone = '${zone}'`);
        return new UsageRepository(tx).report({ orgId, firstDay: '2026-03-09', lastDay: '2026-03-13' });
      });
      expect(zoned.days, zone).toEqual(utc.days);
    }
    expect(utc.days.map((day) => day.executions)).toEqual([1, 5, 0, 1, 1]);
  });

  it('answers a range without executions with zeros for every day', async () => {
    const report = await usage.report({ orgId: otherOrgId, firstDay: '2026-02-27', lastDay: '2026-03-02' });
    expect(report.days.map((day) => [day.day, day.executions])).toEqual([
      ['2026-02-27', 0],
      ['2026-02-28', 0],
      ['2026-03-01', 0],
      ['2026-03-02', 0],
    ]);
    expect(report.range).toMatchObject({ executions: 0, byStatus: {}, p50DurationMs: null, cpuTimeMs: 0 });
  });

  it("sums the measured bytes of the organization's live volumes and counts its threads used within the range", async () => {
    const volumes = new VolumeRepository(database);
    const measured = await volumes.create({ orgId, name: 'Measured', slug: 'measured' });
    await volumes.recordUsage(orgId, measured.id, 6_000_000_000);
    await volumes.create({ orgId, name: 'New', slug: 'new' });
    const deleted = await volumes.create({ orgId, name: 'Gone', slug: 'gone' });
    await volumes.recordUsage(orgId, deleted.id, 999);
    await volumes.delete(orgId, deleted.id);
    const theirs = await volumes.create({ orgId: otherOrgId, name: 'Theirs', slug: 'theirs' });
    await volumes.recordUsage(otherOrgId, theirs.id, 5);

    const threads = new ThreadRepository(database);
    for (const threadId of ['recent', 'old']) {
      await threads.acquire({ orgId, threadId, traceId: `trc_${threadId}`, nodeId: 'n', retention: 'forever' });
      await threads.release({ orgId, threadId, traceId: `trc_${threadId}` });
    }
    await database.query(`UPDATE threads SET last_used_at = now() - interval '20 days' WHERE thread_id = 'old'`);
    const today = new Date();
    const day = (daysAgo: number) => new Date(today.getTime() - daysAgo * 86_400_000).toISOString().slice(0, 10);

    const week = await usage.report({ orgId, firstDay: day(6), lastDay: day(0) });
    expect(week).toMatchObject({ activeThreads: 1, volumeBytes: 6_000_000_000, volumes: 2, unmeasuredVolumes: 1 });
    expect((await usage.report({ orgId, firstDay: day(29), lastDay: day(0) })).activeThreads).toBe(2);
    expect(await usage.report({ orgId: otherOrgId, firstDay: day(6), lastDay: day(0) })).toMatchObject({ activeThreads: 0, volumeBytes: 5, volumes: 1 });
  });
});
