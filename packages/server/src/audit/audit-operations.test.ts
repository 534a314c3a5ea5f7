import type { AuditEntry } from '@airlock/contracts';
import { AuditRepository } from '@airlock/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startAdminApp } from '../../test-support/admin-app.js';
import { auditHash } from './audit-chain.js';

// The audit trail of the admin API, in-process on PGlite: one entry per change and per refused call, with the actor,
// outcome, target and changes, secrets never; reading, exporting and verifying the hash chains, and tampering found.
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;

beforeAll(async () => {
  adminApp = await startAdminApp();
});

afterAll(async () => {
  await adminApp?.close();
});

const call = (method: string, path: string, json?: unknown, token?: string) => adminApp.call(method, path, json, token);

/** Every entry of a chain (an organization's, or the instance's with `?instance=true`), oldest first. */
async function entries(scope = ''): Promise<AuditEntry[]> {
  const response = await adminApp.request(`/admin/v1/audit${scope}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'application/x-ndjson' },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/x-ndjson');
  const lines = (await response.text()).split('\n').filter(Boolean);
  return lines.map((line) => JSON.parse(line) as AuditEntry).reverse();
}

/** The entries a call added to a chain: exactly those, whatever the call's answer. */
async function entriesOf(action: () => Promise<unknown>, scope = ''): Promise<AuditEntry[]> {
  const before = (await entries(scope)).filter((entry) => entry.action !== 'audit.read');
  await action();
  return (await entries(scope)).filter((entry) => entry.action !== 'audit.read').slice(before.length);
}

const SECRETS = {
  envValue: 'env-secret-value-1f2e3d',
  connectorPassword: 'connector-password-9a8b7c',
  s3Secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYAUDITKEY',
};

describe('one audit entry per change', () => {
  it('records each change with its action, actor, target, outcome and changed fields, and never a secret value', async () => {
    const steps: Array<{ call: () => Promise<{ status: number }>; status: number; expected: Partial<AuditEntry>; scope?: string }> = [
      {
        call: () => call('POST', '/admin/v1/sandboxes', { name: 'audited', cpu: 1, env_vars: { TOKEN: SECRETS.envValue } }),
        status: 201,
        expected: { action: 'sandbox.create', target_type: 'sandbox', target_id: 'audited', outcome: 'success' },
      },
      {
        call: () => call('PATCH', '/admin/v1/sandboxes/audited', { cpu: 2, env_vars: { TOKEN: `${SECRETS.envValue}-2` } }),
        status: 200,
        expected: {
          action: 'sandbox.update',
          target_id: 'audited',
          changes: { cpu: { before: 1, after: 2 }, memory_mb: { before: 1024, after: 2048 }, env_vars: 'changed' },
        },
      },
      {
        call: () => call('POST', '/admin/v1/api-keys', { name: 'audited-key', sandbox: 'audited' }),
        status: 201,
        expected: { action: 'api_key.create', target_type: 'api_key', target_id: expect.stringMatching(/^key_/) as unknown as string },
      },
      {
        call: () => call('POST', '/admin/v1/connectors', { name: 'warehouse', type: 'postgresql', host: 'db.example.com', database: 'a', user: 'r', password: SECRETS.connectorPassword }),
        status: 201,
        expected: { action: 'connector.create', target_id: 'warehouse' },
      },
      {
        call: () => call('PATCH', '/admin/v1/connectors/warehouse', { password: `${SECRETS.connectorPassword}-new`, port: 6543 }),
        status: 200,
        expected: { action: 'connector.update', target_id: 'warehouse' },
      },
      {
        call: () => call('POST', '/admin/v1/storage-connections', { name: 'Lake', mount_name: 'lake', provider: 's3', bucket: 'lake', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', access_key_id: 'AKIAAUDITEXAMPLE', secret_access_key: SECRETS.s3Secret }),
        status: 201,
        expected: { action: 'storage_connection.create', target_id: expect.stringMatching(/^stc_/) as unknown as string },
      },
      {
        call: () => call('POST', '/admin/v1/volumes', { name: 'Scratch', slug: 'scratch' }),
        status: 201,
        expected: { action: 'volume.create', target_id: 'scratch' },
      },
      {
        call: () => call('GET', '/admin/v1/sandboxes/audited/webhook-secret'),
        status: 200,
        expected: { action: 'sandbox.webhook_secret.read', target_id: 'audited' },
      },
      {
        call: () => call('DELETE', '/admin/v1/sandboxes/nonexistent'),
        status: 404,
        expected: { action: 'sandbox.delete', target_id: 'nonexistent', outcome: 'failure', reason: 'no sandbox config "nonexistent" in organization "default"' },
      },
      {
        call: () => call('POST', '/admin/v1/sandboxes', { name: 'Bad Name' }),
        status: 400,
        expected: { action: 'sandbox.create', outcome: 'failure', reason: expect.stringMatching(/^name: /) as unknown as string },
      },
    ];
    for (const step of steps) {
      let status = 0;
      const added = await entriesOf(async () => {
        status = (await step.call()).status;
      });
      expect(status, JSON.stringify(step.expected)).toBe(step.status);
      expect(added, JSON.stringify(step.expected)).toHaveLength(1);
      expect(added[0]).toMatchObject({ actor: 'bootstrap', auth_method: 'admin_token', outcome: 'success', ...step.expected });
      expect(added[0]?.request_id).toMatch(/^req_/);
    }
    const exported = JSON.stringify(await entries());
    for (const secret of Object.values(SECRETS)) expect(exported).not.toContain(secret);
  });

  it('an update records the fields before and after; reads are not recorded', async () => {
    const added = await entriesOf(async () => {
      await call('GET', '/admin/v1/sandboxes');
      await call('GET', '/admin/v1/connectors/warehouse');
      await call('PATCH', '/admin/v1/volumes/scratch', { quota_bytes: 1_048_576 });
    });
    expect(added.map((entry) => entry.action)).toEqual(['volume.update']);
    expect(added[0]?.changes).toEqual({ quota_bytes: { before: null, after: 1_048_576 } });
  });

  it('records a new organization in its own chain, named by its id', async () => {
    const created = await call('POST', '/admin/v1/organizations', { name: 'Acme', slug: 'acme' });
    const [entry] = await entries('?organization=acme');
    expect(entry).toMatchObject({ chain: created.body.id, organization_id: created.body.id, seq: 1, action: 'organization.create', target_id: 'acme' });
  });
});

describe('every change is recorded', () => {
  it('each admin operation that changes something writes exactly one entry, even when it fails', async () => {
    const changes = adminApp.operations.filter((operation) => operation.path.startsWith('/admin/') && operation.method !== 'get');
    expect(changes.length).toBeGreaterThan(30);
    const actions = new Set<string>();
    let instanceAdded: AuditEntry[] = [];
    let status = 0;
    for (const operation of changes) {
      const path = operation.path.replace(/\{[a-z_]+\}/g, 'nonexistent');
      // In the default organization's chain, or the instance's for what acts on no organization.
      const inOrganization = await entriesOf(async () => {
        const inInstance = await entriesOf(async () => {
          status = (await call(operation.method.toUpperCase(), path, operation.document.requestBody ? {} : undefined)).status;
        }, '?instance=true');
        instanceAdded = inInstance;
      });
      const added = [...inOrganization, ...instanceAdded];
      expect(added, `${operation.method} ${operation.path}`).toHaveLength(1);
      // Nothing is named "nonexistent" and `{}` is no valid body but for a verification of every chain.
      expect(added[0]).toMatchObject({ actor: 'bootstrap', outcome: status >= 400 ? 'failure' : 'success' });
      actions.add(added[0]?.action ?? '');
    }
    // One action per operation: the log tells them apart.
    expect(actions.size).toBe(changes.length);
  });
});

describe('refused calls', () => {
  it('a call without a valid token is denied and recorded in the instance chain as anonymous', async () => {
    const added = await entriesOf(async () => {
      const answer = await call('POST', '/admin/v1/sandboxes', { name: 'sneaky' }, 'adm-not-a-real-token');
      expect(answer).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    }, '?instance=true');
    expect(added).toEqual([
      expect.objectContaining({ actor: 'anonymous', auth_method: 'none', action: 'sandbox.create', outcome: 'denied', organization_id: null }),
    ]);
  });

  it('a viewer token reads but is denied changes (403, recorded); an owner revokes it and it stops working', async () => {
    const created = await call('POST', '/admin/v1/admin-tokens', { name: 'dashboard', role: 'viewer' });
    expect(created).toMatchObject({ status: 201, body: { name: 'dashboard', role: 'viewer', created_by: 'bootstrap', token: expect.stringMatching(/^adm-/) } });
    const token = created.body.token as string;
    expect((await call('GET', '/admin/v1/sandboxes', undefined, token)).status).toBe(200);
    const added = await entriesOf(async () => {
      const answer = await call('DELETE', '/admin/v1/sandboxes/audited', undefined, token);
      expect(answer).toMatchObject({ status: 403, body: { error: 'forbidden', message: 'sandbox.delete needs the admin role; dashboard has the viewer role' } });
      expect((await call('GET', '/admin/v1/admin-tokens', undefined, token)).status).toBe(403);
    });
    expect(added).toEqual([expect.objectContaining({ actor: 'dashboard', outcome: 'denied', action: 'sandbox.delete', target_id: 'audited' })]);
    expect((await call('GET', '/admin/v1/sandboxes')).body.sandboxes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'audited' })]));

    expect((await call('DELETE', `/admin/v1/admin-tokens/${created.body.id as string}`)).status).toBe(200);
    expect((await call('GET', '/admin/v1/sandboxes', undefined, token)).status).toBe(401);
    const listed = (await call('GET', '/admin/v1/admin-tokens')).body.admin_tokens as Array<Record<string, unknown>>;
    expect(listed.find((listedToken) => listedToken.name === 'dashboard')).toMatchObject({ revoked_at: expect.any(String) });
    expect(JSON.stringify(listed)).not.toContain(token);
  });
});

describe('reading and verifying', () => {
  it('pages newest first with a cursor, filters, and an export that is itself recorded', async () => {
    const all = await entries();
    const pages: AuditEntry[] = [];
    let cursor: string | null = null;
    do {
      const page = await call('GET', `/admin/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(...(page.body.entries as AuditEntry[]));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    expect(pages.filter((entry) => entry.action !== 'audit.read')).toEqual([...all].reverse().filter((entry) => entry.action !== 'audit.read'));
    expect(all.at(-1)).toMatchObject({ action: 'audit.read', outcome: 'success' });
    const failures = await call('GET', '/admin/v1/audit?outcome=failure&action=sandbox');
    const failed = failures.body.entries as AuditEntry[];
    expect(failed.every((entry) => entry.outcome === 'failure' && entry.action.startsWith('sandbox.'))).toBe(true);
    expect(failed.map((entry) => entry.action)).toEqual(expect.arrayContaining(['sandbox.create', 'sandbox.delete']));
    expect(await call('GET', '/admin/v1/audit?cursor=bogus')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^cursor: /) } });
  });

  it('verify passes on an untouched log and records itself', async () => {
    const report = await call('POST', '/admin/v1/audit/verify', {});
    expect(report.status).toBe(200);
    expect(report.body.ok, JSON.stringify(report.body)).toBe(true);
    expect((report.body.chains as Array<Record<string, unknown>>).every((chain) => chain.ok === true && chain.broken === null)).toBe(true);
    const [latest] = (await entries('?instance=true')).slice(-1);
    expect(latest).toMatchObject({ action: 'audit.verify', changes: { ok: true } });
  });

  it('finds an entry changed, removed or cut from the end by a superuser with the triggers disabled', async () => {
    const rehash = async (table: string, chain: string) => {
      const [row] = await new AuditRepository(adminApp.database).chainEntries(chain, { afterSeq: 1, limit: 1 });
      if (!row) throw new Error('no row 2');
      const { hash: _hash, ...changed } = { ...row, reason: 'rewritten' };
      await adminApp.database.query(`UPDATE ${table} SET reason = $1, hash = $2 WHERE seq = 2`, [changed.reason, auditHash(changed)]);
    };
    for (const [slug, tamper] of [
      ['edited', async (table: string) => adminApp.database.query(`UPDATE ${table} SET actor = 'someone-else' WHERE seq = 2`)],
      ['removed', async (table: string) => adminApp.database.query(`DELETE FROM ${table} WHERE seq = 2`)],
      ['rehashed', rehash],
      ['truncated', async (table: string) => adminApp.database.query(`DELETE FROM ${table} WHERE seq = (SELECT max(seq) FROM ${table})`)],
    ] as const) {
      const organization = await call('POST', '/admin/v1/organizations', { name: slug, slug });
      for (const name of ['one', 'two']) await call('POST', `/admin/v1/sandboxes?organization=${slug}`, { name });
      expect((await call('POST', '/admin/v1/audit/verify', { organization: slug })).body.ok).toBe(true);

      const [{ table } = { table: '' }] = await adminApp.database.query<{ table: string }>(
        "SELECT c.relname AS table FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1",
        [`audit_log_${organization.body.id as string}`],
      );
      await expect(adminApp.database.query(`UPDATE ${table} SET actor = 'x'`)).rejects.toThrow(/append-only/);
      await adminApp.database.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
      await tamper(table, organization.body.id as string);
      await adminApp.database.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);

      const report = await call('POST', '/admin/v1/audit/verify', { organization: slug });
      expect(report.body.ok, slug).toBe(false);
      const [chain] = report.body.chains as Array<{ broken: { seq: number; reason: string } }>;
      const expected = {
        edited: { seq: 2, reason: expect.stringMatching(/does not match its hash/) },
        removed: { seq: 2, reason: expect.stringMatching(/missing/) },
        rehashed: { seq: 3, reason: expect.stringMatching(/previous_hash is not the hash of the entry before it/) },
        truncated: { seq: expect.any(Number), reason: expect.stringMatching(/removed from the end/) },
      }[slug];
      expect(chain?.broken, slug).toEqual(expected);
    }
  });
});
