import { AuditRepository, INSTANCE_CHAIN, OrganizationRepository, type NewAuditEntry } from '@airlock/db';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestDatabase } from '../../test-support/test-tenant.js';
import { silentLogger } from '../shared/logger.js';
import { AuditService } from './audit-service.js';

let testDatabase: Awaited<ReturnType<typeof startTestDatabase>>;

beforeAll(async () => {
  testDatabase = await startTestDatabase();
});

afterAll(async () => {
  await testDatabase?.close();
});

const entry = (orgId: string | null, action: string): NewAuditEntry => ({
  orgId,
  actor: 'bootstrap',
  authMethod: 'admin_token',
  action,
  targetType: 'sandbox',
  targetId: 'default',
  outcome: 'success',
  reason: null,
  changes: null,
  ip: null,
  userAgent: null,
  requestId: null,
});

it('retention drops the months older than each chain keeps, and the chain still verifies from its anchor', async () => {
  const organizations = new OrganizationRepository(testDatabase.database);
  const { id: orgId } = await organizations.create({ name: 'Aged', slug: 'aged' });
  await organizations.update(orgId, { auditRetentionDays: 30 });
  let now = new Date(Date.UTC(2026, 0, 10));
  const service = new AuditService({ repository: new AuditRepository(testDatabase.database, { now: () => now }), logger: silentLogger });
  for (const action of ['sandbox.create', 'sandbox.update']) await service.record(entry(orgId, action));
  await service.record(entry(null, 'admin_token.create'));
  now = new Date(Date.UTC(2026, 1, 20));
  await service.record(entry(orgId, 'sandbox.update'));
  now = new Date(Date.UTC(2026, 3, 2));
  await service.record(entry(orgId, 'sandbox.delete'));

  const days = async () => new Map([...(await organizations.auditRetentionDays()), [INSTANCE_CHAIN, 365]]);
  const runs = await service.applyRetention({ days }, now);
  // 30 days before 2 April is 3 March: January and February end before it; the instance chain keeps a year.
  expect(runs).toEqual([{ chain: orgId, droppedPartitions: [`audit_log_${orgId}_202601`, `audit_log_${orgId}_202602`] }]);
  expect(await service.applyRetention({ days }, now)).toEqual([]);

  const report = await service.verify();
  expect(report.ok).toBe(true);
  expect(report.chains.find((chain) => chain.chain === orgId)).toMatchObject({ first_seq: 4, last_seq: 5, entries: 2, ok: true });
  const [retention] = (await service.page({ chain: orgId }, { limit: 1 })).entries;
  expect(retention).toMatchObject({ actor: 'system', action: 'audit.retention', changes: { anchor: { lastSeq: 3 } } });
});
