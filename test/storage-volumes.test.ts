import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

// Managed volumes on the local backend, through the API: attached at /data/<slug>, narrowed by keys and sub_paths.
let airlock: AirlockFixture;
const keys: Record<string, string> = {};

async function run(key: string, code: string, extra: Record<string, unknown> = {}) {
  return airlock.request<{ stdout: string; stderr: string; status: string; storage_sync?: unknown; trace_id: string; message?: string; error?: string }>(
    '/v1/sandbox/execute',
    { method: 'POST', apiKey: key, json: { language: 'python', code, ...extra } },
  );
}

beforeAll(async () => {
  airlock = await startAirlock();
  const volume = await airlock.admin('/admin/v1/volumes', { name: 'Company data', slug: 'company-data' });
  await airlock.admin('/admin/v1/sandboxes', { name: 'analysts' });
  await airlock.admin('/admin/v1/sandboxes/analysts/attachments', { volume: 'company-data' });
  await airlock.admin('/admin/v1/sandboxes', { name: 'readers' });
  await airlock.admin('/admin/v1/sandboxes/readers/attachments', { volume: 'company-data', read_only: true });
  for (const [name, sandbox, storage] of [
    ['analyst', 'analysts', {}],
    ['tenant-a', 'analysts', { 'company-data': { prefix: 'tenants/a' } }],
    ['tenant-b', 'analysts', { 'company-data': { prefix: 'tenants/b' } }],
    ['reader', 'readers', {}],
  ] as const) {
    keys[name] = (await airlock.admin('/admin/v1/api-keys', { name, sandbox, storage })).key as string;
  }
  expect(volume.slug).toBe('company-data');
}, 120_000);

afterAll(async () => {
  await airlock?.close();
});

describe('managed volumes', () => {
  it('code writes /data/<slug>/... and the next call, and the host, find it; the answer says synced', async () => {
    const written = await run(keys.analyst!, 'import os\nos.makedirs("/data/company-data/reports", exist_ok=True)\nopen("/data/company-data/reports/summary.csv", "w").write("total,1\\n")');
    expect(written.status).toBe(200);
    expect(written.body.stderr).toBe('');
    expect(written.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    const read = await run(keys.analyst!, 'print(open("/data/company-data/reports/summary.csv").read(), end="")');
    expect(read.body.stdout).toBe('total,1\n');
    const record = await airlock.request<{ storage_sync: unknown }>(`/v1/executions/${written.body.trace_id}`, { apiKey: keys.analyst! });
    expect(record.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
  });

  it('two concurrent calls writing different files to one volume both land', async () => {
    const answers = await Promise.all(['one', 'two'].map((name) => run(keys.analyst!, `open("/data/company-data/${name}.txt", "w").write("${name}")`)));
    for (const answer of answers) expect(answer.body.stderr).toBe('');
    const read = await run(keys.analyst!, 'print(open("/data/company-data/one.txt").read(), open("/data/company-data/two.txt").read())');
    expect(read.body.stdout).toBe('one two\n');
  });

  it('a read-only attachment refuses writes; a call without storage has no storage_sync', async () => {
    const refused = await run(keys.reader!, 'import errno\ntry:\n    open("/data/company-data/x.txt", "w")\nexcept OSError as e:\n    print(errno.errorcode[e.errno])');
    expect(refused.body.stdout).toBe('EROFS\n');
    const plain = await run(airlock.apiKey, 'print(1)');
    expect(plain.body).not.toHaveProperty('storage_sync');
  });

  it("keys with prefixes each see their own subtree only, and can't climb out", async () => {
    await run(keys['tenant-a']!, 'open("/data/company-data/mine.txt", "w").write("a")');
    await run(keys['tenant-b']!, 'open("/data/company-data/mine.txt", "w").write("b")');
    const a = await run(keys['tenant-a']!, 'import os\nprint(sorted(os.listdir("/data/company-data")), open("/data/company-data/mine.txt").read(), os.path.exists("/data/company-data/../company-data/reports"))');
    expect(a.body.stdout).toBe("['mine.txt'] a False\n");
    const all = await run(keys.analyst!, 'import os\nprint(sorted(os.listdir("/data/company-data/tenants")))');
    expect(all.body.stdout).toBe("['a', 'b']\n");
  });

  it('sub_paths narrows a mount for one call and never widens it', async () => {
    const narrowed = await run(keys.analyst!, 'import os\nprint(sorted(os.listdir("/data/company-data")))', { sub_paths: ['/data/company-data/tenants/b'] });
    expect(narrowed.body.stdout).toBe("['mine.txt']\n");
    for (const subPath of ['/data/company-data/../etc', '/data/company-data/%2e%2e', '/data/other', '/data/company-data//x']) {
      const refused = await run(keys['tenant-a']!, 'print(1)', { sub_paths: [subPath] });
      expect(refused.status, subPath).toBe(400);
      expect(refused.body.message).toMatch(/^sub_paths\.0: /);
    }
  });

  it('a planted symbolic link is not followed when a later call narrows through it', async () => {
    const planted = await run(keys.analyst!, 'import os\nos.symlink("/etc", "/data/company-data/escape")');
    expect(planted.body.stderr).toBe('');
    const refused = await run(keys.analyst!, 'print(open("/data/company-data/passwd").read())', { sub_paths: ['/data/company-data/escape'] });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('symbolic link');
  });

  it('the files are in the data directory, owned by the sandbox user', async () => {
    const volumes = join(airlock.dataDirectory, 'volumes');
    expect(existsSync(volumes)).toBe(true);
    const { execFileSync } = await import('node:child_process');
    const found = execFileSync('find', [volumes, '-name', 'summary.csv']).toString().trim();
    expect(readFileSync(found, 'utf8')).toBe('total,1\n');
  });
});
