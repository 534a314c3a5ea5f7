import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { freePort } from './support/free-port.js';
import { CookieJar, airlockOidcEnvironment, signInAs, startOidcProvider, type OidcProviderFixture } from './support/oidc-provider.js';

// Console sign-in end to end: Airlock as the relying party of a real OpenID Connect provider (oidc-provider) on
// loopback; the code flow with PKCE, state and nonce; users provisioned and given roles by the configured rules.
let provider: OidcProviderFixture;
let airlock: AirlockFixture;

beforeAll(async () => {
  const port = await freePort();
  const callback = `http://127.0.0.1:${port}/auth/oidc/callback`;
  provider = await startOidcProvider({
    redirectUris: [callback],
    accounts: [
      { sub: 'alice', email: 'alice@example.com', name: 'Alice', groups: ['airlock-admins'] },
      { sub: 'bob', email: 'bob@corp.example', groups: [] },
      { sub: 'carol', email: 'carol@elsewhere.example', groups: ['unrelated'] },
      { sub: 'dave', email: 'dave@corp.example', email_verified: false, groups: ['acme-team'] },
    ],
  });
  airlock = await startAirlock({
    port,
    environment: {
      ...airlockOidcEnvironment(provider, callback),
      AIRLOCK_OIDC_ROLES: 'airlock-admins=*:admin,acme-team=acme:admin',
      AIRLOCK_OIDC_EMAIL_DOMAINS: 'corp.example=viewer',
    },
  });
  await airlock.request('/admin/v1/organizations', { method: 'POST', apiKey: airlock.adminToken, json: { name: 'Acme', slug: 'acme' } });
});

afterAll(async () => {
  await airlock?.close();
  await provider?.stop();
});

/** Signs in as `sub` from the login page, stopping when Airlock sends the browser on; returns its jar. */
async function signIn(sub: string, returnTo = '/console/') {
  return signInAs({ startUrl: `${airlock.url}/auth/oidc/login?return_to=${encodeURIComponent(returnTo)}`, sub, stopAt: `${airlock.url}${returnTo}` });
}

/** A request with the jar's cookies, from this server's pages. */
async function asBrowser(jar: CookieJar, method: string, path: string, json?: unknown) {
  const url = `${airlock.url}${path}`;
  const response = await fetch(url, {
    method,
    headers: { cookie: jar.header(url), origin: airlock.url, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, unknown> };
}

async function auditEntries(query: string): Promise<Array<Record<string, unknown>>> {
  const page = await airlock.request<{ entries: Array<Record<string, unknown>> }>(`/admin/v1/audit?${query}`, { apiKey: airlock.adminToken });
  return page.body.entries;
}

describe('signing in through the identity provider', () => {
  it('runs the code flow with PKCE, state and nonce; provisions the user with its mapped role; the session works', async () => {
    const { final, jar, steps } = await signIn('alice', '/console/audit');
    expect(final.status).toBe(302);
    expect(final.headers.get('location')).toBe('/console/audit');
    expect(jar.get('airlock_session')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const callback = steps.find((step) => step.url.startsWith(`${airlock.url}/auth/oidc/callback`));
    expect(callback?.setCookie.join()).toMatch(/airlock_session=[^;]+; Max-Age=86400; Path=\/; HttpOnly; Secure; SameSite=Lax/);

    const [authorization] = provider.authorizationRequests;
    expect(authorization).toMatchObject({ code_challenge_method: 'S256', scope: 'openid email profile', response_type: 'code' });
    expect(authorization?.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorization?.state).toBeTruthy();
    expect(authorization?.nonce).toBeTruthy();
    expect(provider.tokenRequests).toEqual([{ grantType: 'authorization_code', hadCodeVerifier: true }]);

    expect(await asBrowser(jar, 'GET', '/admin/v1/me')).toMatchObject({
      status: 200,
      body: { actor: 'alice@example.com', auth_method: 'session', instance_role: 'admin', user: { email: 'alice@example.com', name: 'Alice', signs_in_with: 'oidc' } },
    });
    expect((await asBrowser(jar, 'POST', '/admin/v1/sandboxes?organization=acme', { name: 'by-alice' })).status).toBe(201);
    // An admin is not an owner: tokens and members stay out of reach.
    expect((await asBrowser(jar, 'POST', '/admin/v1/admin-tokens', { name: 'mine', role: 'owner' })).status).toBe(403);
    const [signInEntry] = await auditEntries('instance=true&action=auth.sign_in&outcome=success');
    expect(signInEntry).toMatchObject({ actor: 'alice@example.com', auth_method: 'session', target_type: 'user' });
  });

  it('a verified email domain gives a viewer, refused changes (403, recorded as denied)', async () => {
    const { jar } = await signIn('bob');
    expect(await asBrowser(jar, 'GET', '/admin/v1/me')).toMatchObject({ body: { instance_role: null, organizations: [expect.objectContaining({ slug: 'default', role: 'viewer' })] } });
    expect((await asBrowser(jar, 'GET', '/admin/v1/sandboxes')).status).toBe(200);
    expect((await asBrowser(jar, 'POST', '/admin/v1/sandboxes', { name: 'by-bob' })).status).toBe(403);
    const [denied] = await auditEntries('action=sandbox.create&outcome=denied');
    expect(denied).toMatchObject({ actor: 'bob@corp.example', auth_method: 'session', outcome: 'denied' });
  });

  it('no rule, no user: an account without a role (or with an unverified email) is refused and recorded', async () => {
    for (const [sub, email] of [['carol', 'carol@elsewhere.example'], ['dave', 'dave@corp.example']] as const) {
      const { final, jar } = await signIn(sub);
      if (sub === 'dave') {
        // Its group maps to acme; its unverified email gives nothing, but the group is enough.
        expect(final.status).toBe(302);
        expect(await asBrowser(jar, 'GET', '/admin/v1/me')).toMatchObject({ body: { organizations: [expect.objectContaining({ slug: 'acme', role: 'admin' })] } });
        continue;
      }
      expect(final.status).toBe(403);
      expect(await final.json()).toMatchObject({ error: 'forbidden', message: `${email} has no role in Airlock: ask an owner to add you, or to map your groups to a role` });
      expect(jar.get('airlock_session')).toBeUndefined();
      const [refused] = await auditEntries('instance=true&action=auth.sign_in&outcome=denied');
      expect(refused).toMatchObject({ actor: email });
    }
    const users = await airlock.request<{ users: Array<{ email: string }> }>('/admin/v1/users', { apiKey: airlock.adminToken });
    expect(users.body.users.map((user) => user.email)).not.toContain('carol@elsewhere.example');
  });

  it('roles follow the claims at each sign-in', async () => {
    provider.setAccount({ sub: 'alice', email: 'alice@example.com', name: 'Alice', groups: ['acme-team'] });
    const { jar } = await signIn('alice');
    expect(await asBrowser(jar, 'GET', '/admin/v1/me')).toMatchObject({ body: { instance_role: null, organizations: [expect.objectContaining({ slug: 'acme', role: 'admin' })] } });
    expect((await asBrowser(jar, 'GET', '/admin/v1/sandboxes')).status).toBe(404);
    provider.setAccount({ sub: 'alice', email: 'alice@example.com', name: 'Alice', groups: ['airlock-admins'] });
  });
});

describe('a tampered or replayed sign-in', () => {
  it('is refused: a replayed callback, a changed state, a callback in another browser', async () => {
    const start = `${airlock.url}/auth/oidc/login`;
    const captured = await signInAs({ startUrl: start, sub: 'alice', followCallback: false });
    const callback = captured.callbackUrl ?? '';
    expect(callback).toMatch(/\/auth\/oidc\/callback\?code=/);

    // Another browser (no flow cookie) cannot finish it, and the attempt uses the sign-in up.
    const elsewhere = await fetch(callback, { redirect: 'manual' });
    expect(elsewhere.status).toBe(403);
    expect(await elsewhere.json()).toMatchObject({ message: 'this sign-in was started in another browser; start again here' });
    const replayed = await fetch(callback, { redirect: 'manual', headers: { cookie: captured.jar.header(callback) } });
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toMatchObject({ message: 'this sign-in is unknown, expired or already finished; start again' });

    const second = await signInAs({ startUrl: start, sub: 'alice', followCallback: false });
    const changed = new URL(second.callbackUrl ?? '');
    changed.searchParams.set('state', 'forged-state');
    const forged = await fetch(changed, { redirect: 'manual', headers: { cookie: second.jar.header(changed) } });
    expect(forged.status).toBe(400);
    expect(forged.headers.getSetCookie().join()).not.toMatch(/airlock_session=[^;]/);
  });

  it('sign-out ends the session and points at the provider to end its own', async () => {
    const { jar } = await signIn('alice');
    const signOut = await fetch(`${airlock.url}/auth/logout`, { method: 'POST', headers: { cookie: jar.header(`${airlock.url}/`), origin: airlock.url } });
    expect(await signOut.json()).toEqual({ signed_out: true, end_session_url: expect.stringContaining(`${provider.issuer}/session/end?`) });
    expect((await asBrowser(jar, 'GET', '/admin/v1/me')).status).toBe(401);
  });
});
