import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

function admin(path: string, init: RequestInit & { json?: unknown } = {}) {
  return airlock.request(path, { ...init, apiKey: airlock.adminToken });
}

describe('configuration chain', () => {
  it('environment variables: sandbox config < API key < request', async () => {
    const sandbox = await admin('/admin/v1/sandboxes', {
      method: 'POST',
      json: { name: 'env-chain', env_vars: { FROM_SANDBOX: 'sandbox', SHARED_BY_KEY: 'sandbox', SHARED_BY_ALL: 'sandbox' } },
    });
    expect(sandbox.status).toBe(201);
    const key = await admin('/admin/v1/api-keys', {
      method: 'POST',
      json: { name: 'env-chain', sandbox: 'env-chain', env_vars: { SHARED_BY_KEY: 'key', SHARED_BY_ALL: 'key' } },
    });
    expect(key.status).toBe(201);
    const response = await airlock.request<{ stdout: string }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key.body.key as string,
      json: {
        language: 'bash',
        code: 'echo "$FROM_SANDBOX $SHARED_BY_KEY $SHARED_BY_ALL $ONLY_REQUEST"; sh -c \'echo child sees $SHARED_BY_ALL\'',
        env_vars: { SHARED_BY_ALL: 'request', ONLY_REQUEST: 'x y' },
      },
    });
    expect(response.status).toBe(200);
    expect(response.body.stdout).toBe('sandbox key request x y\nchild sees request\n');
  });

  it.each(['python', 'node'])('%s sees request variables in its environment and its children', async (language) => {
    const code =
      language === 'python'
        ? 'import os, subprocess; print(os.environ["GREETING"]); subprocess.run(["sh", "-c", "echo $GREETING"])'
        : 'console.log(process.env.GREETING); require("child_process").execSync("echo $GREETING", { stdio: "inherit" })';
    const result = await airlock.execute({ language, code, env_vars: { GREETING: 'hé=llo' } });
    expect(result.stdout).toBe('hé=llo\nhé=llo\n');
  });

  it('metadata is stored but never reaches the sandbox', async () => {
    const half = `${Date.now()}`;
    // The code assembles the marker, so its text never contains it.
    const code = `
import os
marker = "meta" + "${half}"
places = [k + "=" + v for k, v in os.environ.items() if marker in k or marker in v]
for root in ["/tmp", "/run", "/home", "/proc/self/environ", "/proc/self/cmdline"]:
    paths = [root] if os.path.isfile(root) else [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
    for path in paths:
        try:
            if marker.encode() in open(path, "rb").read():
                places.append(path)
        except OSError:
            pass
print(places)`;
    const result = await airlock.execute({ code, metadata: { [`meta${half}`]: `meta${half}` } });
    expect(result.stdout).toBe('[]\n');
  });

  it('a timeout above the sandbox maximum is rejected', async () => {
    await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'short', timeout_max_seconds: 5 } });
    const key = await admin('/admin/v1/api-keys', { method: 'POST', json: { name: 'short', sandbox: 'short' } });
    const response = await airlock.request('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key.body.key as string,
      json: { code: 'print(1)', timeout: 6 },
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'validation_error' });
    expect(response.body.message).toMatch(/^timeout: at most 5 seconds/);
  });

  it("an organization's plan caps the timeout of all its sandboxes, and raising it applies at once", async () => {
    const created = await admin('/admin/v1/organizations', { method: 'POST', json: { name: 'Free tier', slug: 'free-tier', max_timeout_seconds: 3 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ slug: 'free-tier', max_timeout_seconds: 3 });
    expect((await admin('/admin/v1/organizations', { method: 'POST', json: { name: 'Again', slug: 'free-tier' } })).status).toBe(409);
    expect((await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'default', organization: 'free-tier' } })).status).toBe(201);
    const key = await admin('/admin/v1/api-keys', { method: 'POST', json: { name: 'free', organization: 'free-tier' } });
    const execute = (timeout: number) =>
      airlock.request('/v1/sandbox/execute', { method: 'POST', apiKey: key.body.key as string, json: { code: 'print(1)', timeout } });

    const refused = await execute(4);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/^timeout: at most 3 seconds on this organization's plan/);
    expect((await execute(3)).status).toBe(200);

    const raised = await admin('/admin/v1/organizations/free-tier', { method: 'PATCH', json: { max_timeout_seconds: 10 } });
    expect(raised.body).toMatchObject({ max_timeout_seconds: 10, name: 'Free tier' });
    expect((await execute(4)).status).toBe(200);
    const listed = await admin('/admin/v1/organizations');
    expect(listed.body.organizations).toEqual(
      expect.arrayContaining([expect.objectContaining({ slug: 'default' }), expect.objectContaining({ slug: 'free-tier', max_timeout_seconds: 10 })]),
    );
    for (const body of [{ max_timeout_seconds: 0 }, { max_timeout_seconds: 86_401 }, { plan: 'pro' }]) {
      expect((await admin('/admin/v1/organizations/free-tier', { method: 'PATCH', json: body })).status).toBe(400);
    }
    expect((await admin('/admin/v1/organizations/nowhere', { method: 'PATCH', json: { name: 'x' } })).status).toBe(404);
  });

  it('a key cannot broaden the network; a server without network gives it to no sandbox config; other modes are refused', async () => {
    const broaden = await admin('/admin/v1/api-keys', { method: 'POST', json: { name: 'x', network: 'unrestricted' } });
    expect(broaden.status).toBe(400);
    // The test fixture runs with AIRLOCK_NETWORK=off (test/network-api.test.ts has it on).
    const unrestricted = await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'net', network: 'unrestricted' } });
    expect(unrestricted.status).toBe(400);
    expect(unrestricted.body.message).toBe("network: this server runs sandboxes without network (AIRLOCK_NETWORK=off); only 'blocked' is possible");
    const allowlist = await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'net', network: 'allowlist', network_allow: ['api.example.com'] } });
    expect(allowlist.status).toBe(400);
    expect(allowlist.body.message).toBe(unrestricted.body.message);
    const unknown = await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'net2', network: 'open' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/^network: 'blocked' \(no network\), 'allowlist' \(only the names and networks of network_allow\) or 'unrestricted'/);
  });

  it('the OpenAPI document advertises no value or field the server always refuses', async () => {
    const document = (await airlock.request('/openapi.json', { apiKey: null })).body as {
      components: { schemas: Record<string, { properties?: Record<string, { enum?: string[]; const?: string }> }> };
    };
    const schemas = document.components.schemas;
    const networks = Object.values(schemas)
      .filter((schema) => schema.properties?.network && schema.properties?.cpu && !schema.properties?.id)
      .map((schema) => schema.properties!.network);
    expect(networks.length).toBeGreaterThan(0);
    for (const network of networks) expect(network?.enum).toEqual(['blocked', 'allowlist', 'unrestricted']);
  });
});

describe('API keys', () => {
  it('a created key works, is listed by prefix only, and stops working when revoked', async () => {
    const created = await admin('/admin/v1/api-keys', { method: 'POST', json: { name: 'temporary' } });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    expect(key).toMatch(/^sk-local-[A-Za-z0-9_-]{43}$/);
    const ok = await airlock.request('/v1/sandbox/execute', { method: 'POST', apiKey: key, json: { code: 'print(1)' } });
    expect(ok.status).toBe(200);

    const listed = await admin('/admin/v1/api-keys');
    const entry = (listed.body.api_keys as Array<Record<string, unknown>>).find((candidate) => candidate.id === created.body.id);
    expect(entry?.display_prefix).toBe(`${key.slice(0, 13)}...`);
    expect(JSON.stringify(listed.body)).not.toContain(key);

    expect((await admin(`/admin/v1/api-keys/${created.body.id as string}`, { method: 'DELETE' })).status).toBe(204);
    const revoked = await airlock.request('/v1/sandbox/execute', { method: 'POST', apiKey: key, json: { code: 'print(1)' } });
    expect(revoked.status).toBe(401);
    expect(revoked.body).toMatchObject({ error: 'unauthorized' });
  });

  it('rotating a key gives it a new secret, shown once; the old one stops working at once, the key stays the same', async () => {
    await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'rotating', env_vars: { STAGE: 'kept' } } });
    const created = await admin('/admin/v1/api-keys', { method: 'POST', json: { name: 'rotated', sandbox: 'rotating' } });
    const oldKey = created.body.key as string;
    const run = (key: string) =>
      airlock.request<{ stdout: string }>('/v1/sandbox/execute', { method: 'POST', apiKey: key, json: { language: 'bash', code: 'echo $STAGE' } });
    expect((await run(oldKey)).body.stdout).toBe('kept\n'); // now cached as authenticated
    const rotated = await admin(`/admin/v1/api-keys/${created.body.id as string}/rotate`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    const newKey = rotated.body.key as string;
    expect(rotated.body).toMatchObject({ id: created.body.id, name: 'rotated', sandbox: 'rotating', display_prefix: `${newKey.slice(0, 13)}...` });
    expect(newKey).not.toBe(oldKey);
    expect((await run(oldKey)).status).toBe(401);
    expect((await run(newKey)).body.stdout).toBe('kept\n');
    const listed = (await admin('/admin/v1/api-keys')).body.api_keys as Array<Record<string, unknown>>;
    expect(listed.filter((key) => key.id === created.body.id)).toHaveLength(1);
    // A revoked key cannot be rotated back to life.
    expect((await admin(`/admin/v1/api-keys/${created.body.id as string}`, { method: 'DELETE' })).status).toBe(204);
    expect((await admin(`/admin/v1/api-keys/${created.body.id as string}/rotate`, { method: 'POST' })).status).toBe(404);
    expect((await run(newKey)).status).toBe(401);
  });

  it('a sandbox config is deleted only when no unrevoked key uses it; its name is free again', async () => {
    await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'short-lived', cpu: 2 } });
    const key = await admin('/admin/v1/api-keys', { method: 'POST', json: { name: 'user-of-short-lived', sandbox: 'short-lived' } });
    const refused = await admin('/admin/v1/sandboxes/short-lived', { method: 'DELETE' });
    expect([refused.status, refused.body.message]).toEqual([
      409,
      'sandbox config "short-lived" is used by the API keys "user-of-short-lived"; revoke them or move them first',
    ]);
    expect((await admin(`/admin/v1/api-keys/${key.body.id as string}`, { method: 'DELETE' })).status).toBe(204);
    expect((await admin('/admin/v1/sandboxes/short-lived', { method: 'DELETE' })).status).toBe(204);
    const sandboxes = (await admin('/admin/v1/sandboxes')).body.sandboxes as Array<{ name: string }>;
    expect(sandboxes.map((sandbox) => sandbox.name)).not.toContain('short-lived');
    expect((await admin('/admin/v1/sandboxes/short-lived', { method: 'DELETE' })).status).toBe(404);
    expect((await admin('/admin/v1/sandboxes/short-lived', { method: 'PATCH', json: { cpu: 1 } })).status).toBe(404);
    const again = await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'short-lived' } });
    expect([again.status, again.body.cpu]).toEqual([201, 1]);
  });

  it('an organization is deleted only without unrevoked keys, never the default one; its slug is free again', async () => {
    expect((await admin('/admin/v1/organizations', { method: 'POST', json: { name: 'Leaving', slug: 'leaving' } })).status).toBe(201);
    expect((await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'default', organization: 'leaving' } })).status).toBe(201);
    const key = await admin('/admin/v1/api-keys', { method: 'POST', json: { name: 'last-key', organization: 'leaving' } });
    expect(key.status).toBe(201);
    const refused = await admin('/admin/v1/organizations/leaving', { method: 'DELETE' });
    expect([refused.status, refused.body.message]).toEqual([409, 'organization "leaving" has the API keys "last-key"; revoke them first']);
    expect((await admin(`/admin/v1/api-keys/${key.body.id as string}?organization=leaving`, { method: 'DELETE' })).status).toBe(204);
    expect((await admin('/admin/v1/organizations/leaving', { method: 'DELETE' })).status).toBe(204);
    const organizations = (await admin('/admin/v1/organizations')).body.organizations as Array<{ slug: string }>;
    expect(organizations.map((organization) => organization.slug)).not.toContain('leaving');
    expect((await admin('/admin/v1/api-keys?organization=leaving')).status).toBe(404);
    expect((await admin('/admin/v1/organizations', { method: 'POST', json: { name: 'Back', slug: 'leaving' } })).status).toBe(201);
    // The new organization of that slug starts empty: the deleted one's sandbox configs went with it.
    expect((await admin('/admin/v1/sandboxes?organization=leaving')).body.sandboxes).toEqual([]);
    const defaultOrganization = await admin('/admin/v1/organizations/default', { method: 'DELETE' });
    expect([defaultOrganization.status, defaultOrganization.body.message]).toEqual([409, 'the "default" organization cannot be deleted']);
  });

  it('a sandbox config change applies to the next call of a key that was just used', async () => {
    await admin('/admin/v1/sandboxes', { method: 'POST', json: { name: 'changing', env_vars: { STAGE: 'one' } } });
    const key = (await admin('/admin/v1/api-keys', { method: 'POST', json: { name: 'changing', sandbox: 'changing' } }))
      .body.key as string;
    const run = () =>
      airlock.request<{ stdout: string }>('/v1/sandbox/execute', {
        method: 'POST',
        apiKey: key,
        json: { language: 'bash', code: 'echo $STAGE' },
      });
    expect((await run()).body.stdout).toBe('one\n');
    const patched = await admin('/admin/v1/sandboxes/changing', { method: 'PATCH', json: { env_vars: { STAGE: 'two' } } });
    expect(patched.status).toBe(200);
    expect((await run()).body.stdout).toBe('two\n');
  });

  it('sandbox API keys cannot use the admin API', async () => {
    const response = await airlock.request('/admin/v1/api-keys');
    expect(response.status).toBe(401);
  });
});
