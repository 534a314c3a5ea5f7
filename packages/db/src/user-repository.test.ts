import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import { OrganizationRepository, SessionRepository, UniqueViolationError, UserRepository, openDatabase, type Database } from './index.js';

describe.each(BACKEND_KINDS)('users, memberships and sessions on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let users: UserRepository;
  let sessions: SessionRepository;
  let organizations: OrganizationRepository;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    users = new UserRepository(database);
    sessions = new SessionRepository(database);
    organizations = new OrganizationRepository(database);
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  it('keeps emails unique in lower case and links an OIDC identity at sign-in', async () => {
    const user = await users.create({ email: 'Ann@Example.com' });
    expect(user).toMatchObject({ email: 'ann@example.com', instanceRole: null, oidcSubject: null });
    await expect(users.create({ email: 'ann@example.com' })).rejects.toBeInstanceOf(UniqueViolationError);
    await users.linkIdentity(user.id, { issuer: 'https://sso.example.com', subject: 'sub-1', name: 'Ann' });
    await users.recordSignIn(user.id);
    expect(await users.findByOidcIdentity('https://sso.example.com', 'sub-1')).toMatchObject({ id: user.id, name: 'Ann', lastSignInAt: expect.any(Date) });
  });

  it('sets the roles the claims give and leaves the ones set by hand', async () => {
    const [acme, beta, gamma] = await Promise.all(['acme', 'beta', 'gamma'].map((slug) => organizations.create({ name: slug, slug: `${slug}-${randomBytes(3).toString('hex')}` })));
    const user = await users.create({ email: `bo-${randomBytes(3).toString('hex')}@example.com` });
    await users.setMembership(user.id, gamma!.id, 'owner');
    await users.syncOidcRoles(user.id, { instanceRole: 'viewer', organizationRoles: new Map([[acme!.id, 'admin'], [beta!.id, 'viewer'], [gamma!.id, 'viewer']]) });
    expect(await users.get(user.id)).toMatchObject({ instanceRole: 'viewer', instanceRoleSource: 'oidc' });
    const sorted = (memberships: Array<{ orgId: string; role: string; source: string }>) => [...memberships].sort((a, b) => a.orgId.localeCompare(b.orgId));
    expect(sorted(await users.memberships(user.id))).toEqual(
      sorted([
        { orgId: acme!.id, role: 'admin', source: 'oidc' },
        { orgId: beta!.id, role: 'viewer', source: 'oidc' },
        { orgId: gamma!.id, role: 'owner', source: 'manual' },
      ]),
    );
    await users.syncOidcRoles(user.id, { instanceRole: null, organizationRoles: new Map([[beta!.id, 'admin']]) });
    expect(await users.get(user.id)).toMatchObject({ instanceRole: null, instanceRoleSource: null });
    expect(sorted(await users.memberships(user.id))).toEqual(
      sorted([
        { orgId: beta!.id, role: 'admin', source: 'oidc' },
        { orgId: gamma!.id, role: 'owner', source: 'manual' },
      ]),
    );
  });

  it('finds a session only while unrevoked, unexpired and not idle; takes a flow and a link once', async () => {
    const user = await users.create({ email: `cy-${randomBytes(3).toString('hex')}@example.com` });
    const secret = randomBytes(32);
    const session = await sessions.create({ secretSha256: secret, userId: user.id, method: 'oidc', ip: '127.0.0.1', userAgent: 'test', expiresAt: new Date(Date.now() + 3_600_000) });
    expect(await sessions.findActive(secret, 60)).toMatchObject({ id: session.id });
    await database.query(`UPDATE sessions SET last_seen_at = now() - interval '2 minutes' WHERE id = $1`, [session.id]);
    expect(await sessions.findActive(secret, 60)).toBeNull();
    expect(await sessions.findActive(secret, 600)).toMatchObject({ id: session.id });
    await sessions.revoke(session.id);
    expect(await sessions.findActive(secret, 600)).toBeNull();
    expect(await sessions.listActive(user.id)).toEqual([]);

    const state = randomBytes(32);
    await sessions.startFlow({ stateSha256: state, browserSha256: randomBytes(32), codeVerifier: 'v', nonce: 'n', returnTo: '/console/', expiresAt: new Date(Date.now() + 60_000) });
    expect(await sessions.takeFlow(state)).toMatchObject({ codeVerifier: 'v', nonce: 'n', returnTo: '/console/' });
    expect(await sessions.takeFlow(state)).toBeNull();

    const token = randomBytes(32);
    await sessions.createLink({ tokenSha256: token, userId: user.id, expiresAt: new Date(Date.now() + 60_000) });
    expect(await Promise.all([sessions.useLink(token), sessions.useLink(token)])).toEqual(expect.arrayContaining([user.id, null]));

    // Ended sessions are deleted once they ended long enough ago.
    await database.query(`UPDATE sessions SET revoked_at = now() - interval '40 days' WHERE id = $1`, [session.id]);
    expect(await sessions.deleteEnded(30)).toBe(1);
    expect(await sessions.get(session.id)).toBeNull();
  });
});
