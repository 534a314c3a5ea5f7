import { UserRepository } from '@airlock/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminApp } from '../../test-support/admin-app.js';

// Console sessions in-process on PGlite: the bootstrap owner's one-time link, the session cookie, roles per
// organization, cross-origin requests refused, sign-out, revocation and expiry. (OIDC sign-in runs end to end against
// a real provider in test/oidc-sign-in.test.ts.)
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;
const ORIGIN = 'http://localhost';

beforeAll(async () => {
  adminApp = await startAdminApp();
});

afterAll(async () => {
  await adminApp?.close();
});

/** The session secret a sign-in answer sets. */
function sessionCookie(response: Response): string {
  const cookie = response.headers.getSetCookie().find((header) => header.startsWith('airlock_session='));
  if (!cookie) throw new Error(`no session cookie in ${response.headers.getSetCookie().join(' | ')}`);
  return cookie;
}

/** A request with a session cookie; `origin` as a browser would send it (null: none). */
async function asSession(secret: string, method: string, path: string, options: { json?: unknown; origin?: string | null } = {}) {
  const origin = options.origin === undefined ? ORIGIN : options.origin;
  const response = await adminApp.request(path, {
    method,
    headers: {
      cookie: `airlock_session=${secret}`,
      ...(origin === null ? {} : { origin }),
      ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

async function latestAudit(scope = ''): Promise<Record<string, unknown>> {
  const page = await adminApp.call('GET', `/admin/v1/audit?limit=1${scope}`);
  return (page.body.entries as Array<Record<string, unknown>>)[0] ?? {};
}

/** A session for a user of this email, as a sign-in would start it. */
async function sessionFor(email: string): Promise<string> {
  const user = await new UserRepository(adminApp.database).findByEmail(email);
  if (!user) throw new Error(`no user ${email}`);
  return (await adminApp.sessions.start(user, { method: 'oidc', ip: null, userAgent: null })).secret;
}

let ownerSecret = '';

describe('the bootstrap owner', () => {
  it('signs in once through the link: a page, then a POST that sets an HttpOnly, SameSite=Lax, Secure session cookie', async () => {
    const link = await adminApp.sessions.bootstrapOwnerLink('owner@airlock.local');
    const page = await adminApp.request(link.path, {});
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    const signedIn = await adminApp.request(link.path, { method: 'POST' });
    expect(signedIn.status).toBe(302);
    expect(signedIn.headers.get('location')).toBe('/console/');
    const cookie = sessionCookie(signedIn);
    expect(cookie).toMatch(/^airlock_session=[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    ownerSecret = /^airlock_session=([^;]+)/.exec(cookie)?.[1] ?? '';
    expect(await latestAudit('&instance=true')).toMatchObject({ action: 'auth.sign_in', actor: 'owner@airlock.local', outcome: 'success' });

    const again = await adminApp.request(link.path, { method: 'POST' });
    expect(again.status).toBe(403);
    expect(await latestAudit('&instance=true')).toMatchObject({ action: 'auth.sign_in', actor: 'anonymous', outcome: 'denied' });
  });

  it('acts through its session: reads from anywhere, changes only from this origin', async () => {
    expect(await asSession(ownerSecret, 'GET', '/admin/v1/me')).toMatchObject({
      status: 200,
      body: {
        actor: 'owner@airlock.local',
        auth_method: 'session',
        instance_role: 'owner',
        organizations: [expect.objectContaining({ slug: 'default', role: 'owner' })],
        session: { current: true, method: 'link' },
      },
    });
    expect((await asSession(ownerSecret, 'GET', '/admin/v1/sandboxes', { origin: null })).status).toBe(200);
    for (const origin of [null, 'http://evil.example', 'null']) {
      const forged = await asSession(ownerSecret, 'POST', '/admin/v1/sandboxes', { json: { name: 'forged' }, origin });
      expect(forged, String(origin)).toMatchObject({ status: 403, body: { error: 'forbidden', message: expect.stringMatching(/must come from this server's own pages/) } });
      expect(await latestAudit('&instance=true')).toMatchObject({ action: 'sandbox.create', outcome: 'denied', actor: 'anonymous' });
    }
    expect((await adminApp.call('GET', '/admin/v1/sandboxes')).body.sandboxes).not.toEqual(expect.arrayContaining([expect.objectContaining({ name: 'forged' })]));
    expect(await asSession(ownerSecret, 'POST', '/admin/v1/sandboxes', { json: { name: 'from-console' } })).toMatchObject({ status: 201 });
    expect(await latestAudit()).toMatchObject({ action: 'sandbox.create', actor: 'owner@airlock.local', auth_method: 'session', outcome: 'success' });
  });
});

describe('members and roles', () => {
  it('an owner gives roles per organization; a viewer reads and is refused changes (403, recorded); outsiders see no organization', async () => {
    await adminApp.call('POST', '/admin/v1/organizations', { name: 'Acme', slug: 'acme' });
    expect(await asSession(ownerSecret, 'POST', '/admin/v1/members', { json: { email: 'Vera@Example.com', role: 'viewer' } })).toMatchObject({
      status: 201,
      body: { user: { email: 'vera@example.com', signs_in_with: 'none' }, role: 'viewer', source: 'manual' },
    });
    expect(await asSession(ownerSecret, 'POST', '/admin/v1/members?organization=acme', { json: { email: 'ada@example.com', role: 'admin' } })).toMatchObject({ status: 201 });
    const members = await adminApp.call('GET', '/admin/v1/members');
    expect((members.body.members as Array<{ user: { email: string } }>).map((member) => member.user.email)).toEqual(['vera@example.com']);

    const viewer = await sessionFor('vera@example.com');
    expect((await asSession(viewer, 'GET', '/admin/v1/sandboxes')).status).toBe(200);
    expect(await asSession(viewer, 'POST', '/admin/v1/sandboxes', { json: { name: 'nope' } })).toMatchObject({
      status: 403,
      body: { message: 'sandbox.create needs the admin role; vera@example.com has the viewer role' },
    });
    expect(await latestAudit()).toMatchObject({ action: 'sandbox.create', actor: 'vera@example.com', auth_method: 'session', outcome: 'denied' });
    expect((await asSession(viewer, 'GET', '/admin/v1/sandboxes/default/webhook-secret')).status).toBe(403);
    expect(await asSession(viewer, 'GET', '/admin/v1/sandboxes?organization=acme')).toMatchObject({ status: 404, body: { message: 'no organization "acme"' } });
    expect((await asSession(viewer, 'GET', '/admin/v1/organizations')).status).toBe(403);
    expect((await asSession(viewer, 'GET', '/admin/v1/admin-tokens')).status).toBe(403);

    const admin = await sessionFor('ada@example.com');
    expect((await asSession(admin, 'POST', '/admin/v1/sandboxes?organization=acme', { json: { name: 'ada-made' } })).status).toBe(201);
    expect(await asSession(admin, 'POST', '/admin/v1/sandboxes', { json: { name: 'ada-default' } })).toMatchObject({ status: 404 });
    expect(await asSession(admin, 'POST', '/admin/v1/members?organization=acme', { json: { email: 'x@example.com', role: 'owner' } })).toMatchObject({
      status: 403,
      body: { message: 'member.set needs the owner role; ada@example.com has the admin role' },
    });
    expect(await asSession(admin, 'GET', '/admin/v1/me')).toMatchObject({ body: { instance_role: null, organizations: [expect.objectContaining({ slug: 'acme', role: 'admin' })] } });

    const vera = (members.body.members as Array<{ user: { id: string } }>)[0]?.user.id ?? '';
    expect((await asSession(ownerSecret, 'DELETE', `/admin/v1/members/${vera}`)).status).toBe(204);
    expect((await asSession(viewer, 'GET', '/admin/v1/sandboxes')).status).toBe(403);
  });
});

describe('sign-in through a provider', () => {
  it('is 404 without one configured, and never sends the browser to another site afterwards', async () => {
    const login = await adminApp.request('/auth/oidc/login', {});
    expect(login.status).toBe(404);
    expect(await login.json()).toMatchObject({ message: expect.stringMatching(/not configured here \(AIRLOCK_OIDC_ISSUER\)/) });
    for (const returnTo of ['//evil.example/', '/\\evil.example', 'https://evil.example/', 'console']) {
      const refused = await adminApp.request(`/auth/oidc/login?return_to=${encodeURIComponent(returnTo)}`, {});
      expect(refused.status, returnTo).toBe(400);
    }
  });
});

describe('session lifetime', () => {
  it('sign-out ends the session and clears the cookie; a revoked, idle or expired session is refused', async () => {
    const link = await adminApp.sessions.bootstrapOwnerLink('owner@airlock.local');
    const second = /^airlock_session=([^;]+)/.exec(sessionCookie(await adminApp.request(link.path, { method: 'POST' })))?.[1] ?? '';
    const listed = await asSession(ownerSecret, 'GET', '/admin/v1/sessions');
    const sessions = listed.body.sessions as Array<{ id: string; current: boolean }>;
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    const secondId = sessions.find((session) => !session.current)?.id ?? '';
    expect((await asSession(ownerSecret, 'DELETE', `/admin/v1/sessions/${secondId}`)).status).toBe(200);
    expect((await asSession(second, 'GET', '/admin/v1/me')).status).toBe(401);

    const idle = await sessionFor('ada@example.com');
    await adminApp.database.query(`UPDATE sessions SET last_seen_at = now() - interval '3 hours' WHERE revoked_at IS NULL AND user_id = (SELECT id FROM users WHERE email = 'ada@example.com')`);
    expect((await asSession(idle, 'GET', '/admin/v1/me')).status).toBe(401);
    const expired = await sessionFor('ada@example.com');
    await adminApp.database.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL AND user_id = (SELECT id FROM users WHERE email = 'ada@example.com')`);
    expect((await asSession(expired, 'GET', '/admin/v1/me')).status).toBe(401);

    expect((await asSession(ownerSecret, 'POST', '/auth/logout', { origin: 'http://evil.example' })).status).toBe(403);
    const signOut = await adminApp.request('/auth/logout', { method: 'POST', headers: { cookie: `airlock_session=${ownerSecret}`, origin: ORIGIN } });
    expect(signOut.status).toBe(200);
    expect(signOut.headers.getSetCookie().join()).toMatch(/airlock_session=; Max-Age=0/);
    expect((await asSession(ownerSecret, 'GET', '/admin/v1/me')).status).toBe(401);
    expect(await latestAudit('&instance=true&action=auth.sign_out')).toMatchObject({ outcome: 'success', actor: 'owner@airlock.local' });
  });
});
