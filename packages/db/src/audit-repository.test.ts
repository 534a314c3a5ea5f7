import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import {
  AuditRepository,
  GENESIS_HASH,
  INSTANCE_CHAIN,
  OrganizationRepository,
  openDatabase,
  type AuditEntry,
  type Database,
  type NewAuditEntry,
} from './index.js';

/** A stand-in for the server's canonical hash: any function of the whole entry shows the chain is threaded. */
const hash = (entry: Omit<AuditEntry, 'hash'>): string => createHash('sha256').update(JSON.stringify(entry)).digest('hex');

const entry = (overrides: Partial<NewAuditEntry> = {}): NewAuditEntry => ({
  orgId: null,
  actor: 'ci',
  authMethod: 'admin_token',
  action: 'sandbox.update',
  targetType: 'sandbox',
  targetId: 'sbx_1',
  outcome: 'success',
  reason: null,
  changes: { cpu: { before: 1, after: 2 } },
  ip: '127.0.0.1',
  userAgent: 'vitest',
  requestId: 'req_1',
  ...overrides,
});

describe.each(BACKEND_KINDS)('audit repository on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let audit: AuditRepository;
  let orgId: string;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    audit = new AuditRepository(database);
    orgId = (await new OrganizationRepository(database).create({ name: 'Audited', slug: 'audited' })).id;
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  it('appends rows to their chain, each holding the hash of the one before', async () => {
    const first = await audit.append(entry({ orgId }), hash);
    const second = await audit.append(entry({ orgId, action: 'sandbox.delete', changes: null }), hash);
    const instance = await audit.append(entry({ action: 'admin_token.create' }), hash);
    expect(first).toMatchObject({ chain: orgId, seq: 1, previousHash: GENESIS_HASH });
    expect(second).toMatchObject({ chain: orgId, seq: 2, previousHash: first.hash });
    expect(instance).toMatchObject({ chain: INSTANCE_CHAIN, seq: 1, previousHash: GENESIS_HASH });
    const { hash: firstHash, ...unhashed } = first;
    expect(firstHash).toBe(hash(unhashed));
    expect(await audit.chainEntries(orgId, { afterSeq: 0, limit: 10 })).toEqual([first, second]);
    expect(await audit.heads()).toEqual(
      expect.arrayContaining([{ chain: orgId, lastSeq: 2, lastHash: second.hash, lastOccurredAt: second.occurredAt }]),
    );
  });

  it('keeps order and gaplessness when appends race', async () => {
    const before = (await audit.chainEntries(orgId, { afterSeq: 0, limit: 1000 })).length;
    await Promise.all(Array.from({ length: 12 }, (_, index) => audit.append(entry({ orgId, targetId: `sbx_${index}` }), hash)));
    const rows = await audit.chainEntries(orgId, { afterSeq: 0, limit: 1000 });
    expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: before + 12 }, (_, index) => index + 1));
    for (let index = 1; index < rows.length; index += 1) expect(rows[index]?.previousHash).toBe(rows[index - 1]?.hash);
  });

  it('stores text without U+0000 and hashes what it stores', async () => {
    const stored = await audit.append(entry({ orgId, reason: 'a\u0000b', changes: { 'k\u0000': ['v\u0000'] } }), hash);
    expect(stored).toMatchObject({ reason: 'a\uFFFDb', changes: { 'k\uFFFD': ['v\uFFFD'] } });
    const [read] = await audit.chainEntries(orgId, { afterSeq: stored.seq - 1, limit: 1 });
    expect(read).toEqual(stored);
  });

  it('refuses UPDATE, DELETE and TRUNCATE on the log, its chain partitions and its month partitions', async () => {
    const [partition] = await audit.partitions(orgId);
    const tables = ['audit_log', `audit_log_${orgId}`, partition?.table ?? 'missing'];
    for (const table of tables) {
      for (const statement of [`UPDATE ${table} SET actor = 'mallory'`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
        await expect(database.query(statement), statement).rejects.toThrow(/append-only/);
      }
    }
    expect((await audit.chainEntries(orgId, { afterSeq: 0, limit: 1000 })).every((row) => row.actor === 'ci')).toBe(true);
  });

  it('lists newest first with filters and a cursor', async () => {
    const other = await audit.append(entry({ orgId, actor: 'alice@example.com', action: 'api_key.revoke', outcome: 'denied' }), hash);
    expect(await audit.list({ chain: orgId, actor: 'alice@example.com' }, { limit: 10 })).toEqual([other]);
    expect(await audit.list({ chain: orgId, action: 'api_key' }, { limit: 10 })).toEqual([other]);
    expect(await audit.list({ chain: orgId, outcome: 'denied' }, { limit: 10 })).toEqual([other]);
    expect(await audit.list({ chain: orgId, from: new Date(other.occurredAt.getTime() + 1) }, { limit: 10 })).toEqual([]);
    const all = await audit.list({ chain: orgId }, { limit: 1000 });
    const firstPage = await audit.list({ chain: orgId }, { limit: 5 });
    const last = firstPage.at(-1) as AuditEntry;
    const secondPage = await audit.list({ chain: orgId }, { limit: 1000, after: last });
    expect([...firstPage, ...secondPage]).toEqual(all);
    expect(all.map((row) => row.seq)).toEqual([...all.map((row) => row.seq)].sort((a, b) => b - a));
  });

  it('drops whole months before a cutoff, never the newest, with an anchor row naming the newest dropped row', async () => {
    const chainOrg = (await new OrganizationRepository(database).create({ name: 'Old', slug: 'old-rows' })).id;
    let now = new Date(Date.UTC(2026, 0, 20));
    const clocked = new AuditRepository(database, { now: () => now });
    const january = [await clocked.append(entry({ orgId: chainOrg }), hash), await clocked.append(entry({ orgId: chainOrg }), hash)];
    now = new Date(Date.UTC(2026, 2, 5));
    const march = await clocked.append(entry({ orgId: chainOrg }), hash);
    const anchorEntry = (dropped: { partitions: string[]; lastSeq: number; lastHash: string }) =>
      entry({ orgId: chainOrg, actor: 'system', authMethod: 'system', action: 'audit.retention', changes: { anchor: dropped } });

    expect(await clocked.dropMonthsBefore(chainOrg, new Date(Date.UTC(2026, 1, 1) - 1), { anchor: anchorEntry, hash })).toBeNull();
    // A cutoff past every month still keeps the month of the newest row.
    const anchor = await clocked.dropMonthsBefore(chainOrg, new Date(Date.UTC(2027, 0, 1)), { anchor: anchorEntry, hash });
    expect(anchor).toMatchObject({
      seq: 4,
      previousHash: march.hash,
      changes: { anchor: { partitions: [`audit_log_${chainOrg}_202601`], lastSeq: 2, lastHash: january[1]?.hash } },
    });
    expect((await clocked.partitions(chainOrg)).map((partition) => partition.table)).toEqual([`audit_log_${chainOrg}_202603`]);
    expect((await clocked.chainEntries(chainOrg, { afterSeq: 0, limit: 10 })).map((row) => row.seq)).toEqual([3, 4]);
  });
});
