import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import {
  ImageRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  UnknownImageError,
  openDatabase,
  type Database,
} from './index.js';

const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

describe.each(BACKEND_KINDS)('image catalog on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let images: ImageRepository;
  let organizations: OrganizationRepository;
  let sandboxConfigs: SandboxConfigRepository;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    images = new ImageRepository(database);
    organizations = new OrganizationRepository(database);
    sandboxConfigs = new SandboxConfigRepository(database);
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  it('has the default recipe image from the start', async () => {
    expect(await images.get('default')).toMatchObject({ name: 'default', source: 'recipe', status: 'not_built', manifest: null });
  });

  it('an import begins pending, becomes ready with its manifest, and begins again only once it is not pending', async () => {
    const name = uniqueName('team-python');
    const origin = { source: 'registry' as const, reference: 'registry.test/team/python:3.13', tlsVerify: false, username: 'ci', sealedCredentials: 'v1.k.sealed' };
    expect(await images.begin(name, origin)).toMatchObject({ status: 'pending', reference: origin.reference, tlsVerify: false, username: 'ci' });
    expect(await images.begin(name, origin)).toBeNull();
    await images.markReady(name, { version: 'abc123abc123' });
    expect(await images.get(name)).toMatchObject({ status: 'ready', error: null, manifest: { version: 'abc123abc123' } });
    const again = await images.begin(name, { ...origin, reference: 'registry.test/team/python:3.14' });
    expect(again).toMatchObject({ status: 'pending', reference: 'registry.test/team/python:3.14', manifest: { version: 'abc123abc123' } });
    await images.markFailed(name, 'pull refused');
    expect(await images.get(name)).toMatchObject({ status: 'failed', error: 'pull refused', manifest: { version: 'abc123abc123' } });
  });

  it('an import never replaces a recipe image, and a recipe rebuild never an import', async () => {
    expect(await images.begin('default', { source: 'archive' })).toBeNull();
    const name = uniqueName('uploaded');
    await images.begin(name, { source: 'archive' });
    await images.markReady(name, {});
    expect(await images.begin(name, { source: 'recipe' })).toBeNull();
  });

  it('failPending fails interrupted imports, not recipe builds', async () => {
    const name = uniqueName('interrupted');
    await images.begin(name, { source: 'archive' });
    expect(await images.failPending('interrupted')).toContain(name);
    expect(await images.get(name)).toMatchObject({ status: 'failed', error: 'interrupted' });
    expect((await images.get('default'))?.status).toBe('not_built');
  });

  it('a sandbox config names only a catalog image, and an image named by a live config is not deleted', async () => {
    const organization = await organizations.create({ name: 'Tenant', slug: uniqueName('org') });
    await expect(sandboxConfigs.create({ orgId: organization.id, name: 'ghost', image: 'no-such-image' })).rejects.toThrow(UnknownImageError);
    expect(await sandboxConfigs.getByName(organization.id, 'ghost')).toBeNull();
    const name = uniqueName('in-use');
    await images.begin(name, { source: 'archive' });
    await images.markReady(name, {});
    const config = await sandboxConfigs.create({ orgId: organization.id, name: 'analysts', image: name });
    expect(await sandboxConfigs.update(organization.id, config.id, { image: 'no-such-image' })).toBeNull();
    expect((await sandboxConfigs.get(organization.id, config.id))?.image).toBe(name);
    expect(await images.usedBy(name)).toEqual([`${organization.slug}/analysts`]);
    expect(await images.delete(name)).toEqual({ deleted: false, usedBy: [`${organization.slug}/analysts`] });
    expect(await images.get(name)).not.toBeNull();
    await sandboxConfigs.update(organization.id, config.id, { image: 'default' });
    expect(await images.delete(name)).toEqual({ deleted: true, usedBy: [] });
    expect(await images.get(name)).toBeNull();
    expect(await images.delete(name)).toEqual({ deleted: false, usedBy: [] });
  });
});
