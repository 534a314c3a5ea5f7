import { randomBytes } from 'node:crypto';
import type { VolumeSummary } from '@airlock/contracts';
import type { ThreadRetention } from '@airlock/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDatabase } from '../../test-support/test-tenant.js';
import type { Principal } from '../auth/api-key-service.js';
import { ApiError } from '../shared/api-error.js';
import type { EffectiveMount } from '../storage/effective-mounts.js';
import type { StorageService } from '../storage/storage-service.js';
import type { VolumeStore } from '../storage/volume-store.js';
import type { VolumeUsage } from '../storage/volume-usage.js';
import type { ThreadService } from '../threads/thread-service.js';
import type { OperatorAccess } from './file-access.js';
import { FileService } from './file-service.js';
import { UrlSigner } from './url-signer.js';
import { VolumeFiles } from './volume-files.js';

// Who reaches which files: an API key through its sandbox config's attachment (its prefix, read-only as attached), an
// organization's operators every volume whole and the threads that exist. Checked through the claims of the signed
// upload URLs, where the scope ends up; storage and threads are stand-ins holding one volume and one thread.
let testDatabase: Awaited<ReturnType<typeof startTestDatabase>>;
let principal: Principal;
const signer = new UrlSigner(randomBytes(32));
const ORIGIN = 'http://127.0.0.1:8080';

const volume: VolumeSummary = {
  id: 'vol_reports',
  name: 'Reports',
  slug: 'reports',
  quota_bytes: 1000,
  used_bytes: 400,
  used_measured_at: null,
  created_at: new Date(0).toISOString(),
  updated_at: new Date(0).toISOString(),
};

const mount: EffectiveMount = {
  kind: 'volume',
  mountName: 'reports',
  attachmentId: 'att_1',
  readOnly: false,
  connectionPrefix: '',
  keyPrefix: 'team-a',
  volumeId: volume.id,
  volumeSlug: volume.slug,
  quotaBytes: volume.quota_bytes,
  usedBytes: volume.used_bytes,
};

/** The service over one volume (attached as `attached`, or not at all) and one thread, `existing`, kept for 30 days. */
function service(attached: EffectiveMount | null = mount): FileService {
  const storage: Pick<StorageService, 'mountsOf' | 'getVolume'> = {
    mountsOf: async () => (attached ? [attached] : []),
    getVolume: async (slug, organizationSlug) => {
      if (slug !== volume.slug) throw ApiError.notFound(`no volume "${slug}" in organization "${organizationSlug}"`);
      return volume;
    },
  };
  const usage = { excess: () => undefined } as unknown as VolumeUsage;
  const threads = {
    retention: async (_orgId: string, threadId: string): Promise<ThreadRetention | null> => (threadId === 'existing' ? '30d' : null),
  } as unknown as ThreadService;
  return new FileService({
    threads,
    volumes: new VolumeFiles({ storage, volumes: {} as VolumeStore, usage, drainBudgetMs: 0 }),
    signer,
  });
}

const operators = (): OperatorAccess => ({ kind: 'operators', organization: { id: principal.organization.id, slug: principal.organization.slug } });

async function uploadClaims(files: FileService, access: Principal | OperatorAccess, source: 'thread' | 'volume', id: string) {
  const { url } = await files.uploadUrl(access, { source, id, path: 'out/report.csv', content_length: 10 }, ORIGIN);
  return signer.verify(url.slice(url.lastIndexOf('/') + 1), 'PUT');
}

beforeAll(async () => {
  testDatabase = await startTestDatabase();
  principal = await testDatabase.principal();
  principal = { ...principal, sandboxConfig: { ...principal.sandboxConfig, threadRetention: '7d' } };
});

afterAll(async () => {
  await testDatabase?.close();
});

describe('volumes', () => {
  it("an API key reaches the volume below its prefix, operators the volume's root", async () => {
    const quota = { slug: 'reports', quotaBytes: 1000, usedBytes: 400 };
    expect(await uploadClaims(service(), principal, 'volume', 'reports')).toMatchObject({
      orgId: principal.organization.id,
      volumeId: 'vol_reports',
      base: 'team-a',
      readOnly: false,
      quota,
    });
    expect(await uploadClaims(service(), operators(), 'volume', 'reports')).toMatchObject({
      orgId: principal.organization.id,
      volumeId: 'vol_reports',
      base: '',
      readOnly: false,
      quota,
    });
  });

  it('a read-only attachment refuses the key an upload; operators write the volume all the same', async () => {
    const readOnly = service({ ...mount, readOnly: true });
    await expect(uploadClaims(readOnly, principal, 'volume', 'reports')).rejects.toMatchObject({ code: 'forbidden' });
    expect(await uploadClaims(readOnly, operators(), 'volume', 'reports')).toMatchObject({ base: '', readOnly: false });
  });

  it("a volume the key's config does not attach is not found for the key, and found for operators", async () => {
    await expect(uploadClaims(service(null), principal, 'volume', 'reports')).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('attach it with POST /admin/v1/sandboxes/{name}/attachments'),
    });
    expect(await uploadClaims(service(null), operators(), 'volume', 'reports')).toMatchObject({ volumeId: 'vol_reports' });
    await expect(uploadClaims(service(null), operators(), 'volume', 'other')).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('threads', () => {
  it("an API key's upload gives the thread its sandbox config's retention, even one that does not exist yet", async () => {
    expect(await uploadClaims(service(), principal, 'thread', 'new-thread')).toMatchObject({ threadId: 'new-thread', retention: '7d' });
    expect(await uploadClaims(service(), principal, 'thread', 'existing')).toMatchObject({ threadId: 'existing', retention: '7d' });
  });

  it('operators reach the threads that exist, each keeping its retention', async () => {
    expect(await uploadClaims(service(), operators(), 'thread', 'existing')).toMatchObject({
      orgId: principal.organization.id,
      threadId: 'existing',
      retention: '30d',
    });
    await expect(uploadClaims(service(), operators(), 'thread', 'new-thread')).rejects.toMatchObject({
      code: 'not_found',
      message: `no thread new-thread in organization "${principal.organization.slug}"; a thread starts with an execution that names its thread_id`,
    });
    await expect(service().list(operators(), { source: 'thread', id: 'new-thread' })).rejects.toMatchObject({ code: 'not_found' });
  });
});
