import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

// The Files API on managed volumes (`source: "volume"`, id the slug), on the local backend, next to code that reads
// and writes the same volume at /data/<slug>.
let airlock: AirlockFixture;
const keys: Record<string, string> = {};

interface SignedUrl {
  url: string;
  method: string;
  headers: Array<{ name: string; value: string }>;
}

interface ListedFile {
  name: string;
  path: string;
  size: number;
  modified: string;
  is_directory: boolean;
}

const files = (key: string, operation: string, json: Record<string, unknown>) =>
  airlock.request<Record<string, unknown>>(`/v1/files/${operation}`, { method: 'POST', apiKey: key, json: { source: 'volume', id: 'company-data', ...json } });

async function list(key: string, path?: string): Promise<ListedFile[]> {
  const response = await files(key, 'list', path === undefined ? {} : { path });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.files as ListedFile[];
}

async function upload(key: string, path: string, content: string): Promise<Response> {
  const signed = await files(key, 'upload_url', { path, content_length: Buffer.byteLength(content) });
  expect(signed.status, JSON.stringify(signed.body)).toBe(200);
  const { url, method, headers } = signed.body as unknown as SignedUrl;
  return fetch(url, { method, headers: Object.fromEntries(headers.map((header) => [header.name, header.value])), body: content });
}

async function download(key: string, path: string): Promise<Response> {
  const signed = await files(key, 'download_url', { path });
  expect(signed.status, JSON.stringify(signed.body)).toBe(200);
  return fetch((signed.body as unknown as SignedUrl).url);
}

async function run(key: string, code: string) {
  const response = await airlock.request<{ stdout: string; stderr: string }>('/v1/sandbox/execute', {
    method: 'POST',
    apiKey: key,
    json: { language: 'python', code },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  expect(response.body.stderr).toBe('');
  return response.body.stdout;
}

/** Every file below the server's volumes directory, relative to it. */
function volumeFiles(): string[] {
  const found: string[] = [];
  const walk = (directory: string, prefix: string) => {
    for (const name of readdirSync(directory)) {
      const path = join(directory, name);
      found.push(`${prefix}${name}`);
      if (lstatSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
    }
  };
  walk(join(airlock.dataDirectory, 'volumes'), '');
  return found;
}

beforeAll(async () => {
  airlock = await startAirlock();
  await airlock.admin('/admin/v1/volumes', { name: 'Company data', slug: 'company-data' });
  await airlock.admin('/admin/v1/volumes', { name: 'Unattached', slug: 'unattached' });
  await airlock.admin('/admin/v1/sandboxes', { name: 'analysts' });
  await airlock.admin('/admin/v1/sandboxes/analysts/attachments', { volume: 'company-data' });
  await airlock.admin('/admin/v1/sandboxes', { name: 'readers' });
  await airlock.admin('/admin/v1/sandboxes/readers/attachments', { volume: 'company-data', read_only: true });
  for (const [name, sandbox, storage] of [
    ['analyst', 'analysts', {}],
    ['tenant-a', 'analysts', { 'company-data': { prefix: 'tenants/a' } }],
    ['narrowed', 'analysts', { 'company-data': { read_only: true } }],
    ['detached', 'analysts', { 'company-data': { detached: true } }],
    ['reader', 'readers', {}],
  ] as const) {
    keys[name] = (await airlock.admin('/admin/v1/api-keys', { name, sandbox, storage })).key as string;
  }
  // Another organization with a volume of its own.
  await airlock.admin('/admin/v1/organizations', { name: 'Other', slug: 'other' });
  await airlock.admin('/admin/v1/volumes?organization=other', { name: 'Vault', slug: 'vault' });
  await airlock.admin('/admin/v1/sandboxes', { name: 'vaults', organization: 'other' });
  await airlock.admin('/admin/v1/sandboxes/vaults/attachments?organization=other', { volume: 'vault' });
  keys.other = (await airlock.admin('/admin/v1/api-keys', { name: 'other', organization: 'other', sandbox: 'vaults' })).key as string;
}, 120_000);

afterAll(async () => {
  await airlock?.close();
});

describe('Files API on a volume', () => {
  it('lists and downloads what code wrote at /data/<slug>', async () => {
    await run(keys.analyst!, 'import os\nos.makedirs("/data/company-data/reports", exist_ok=True)\nopen("/data/company-data/reports/summary.csv", "w").write("total,1\\n")');
    const listed = await list(keys.analyst!);
    expect(listed.find((entry) => entry.path === 'reports')).toMatchObject({ name: 'reports', is_directory: true, size: 0 });
    expect(listed.find((entry) => entry.path === 'reports/summary.csv')).toMatchObject({ name: 'summary.csv', is_directory: false, size: 8 });
    expect((await list(keys.analyst!, 'reports')).map((entry) => entry.path)).toEqual(['reports/summary.csv']);
    const fetched = await download(keys.analyst!, 'reports/summary.csv');
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get('content-disposition')).toContain("filename*=UTF-8''summary.csv");
    expect(await fetched.text()).toBe('total,1\n');
  });

  it('an uploaded file is read by the next execution, which may change it and its new directories', async () => {
    expect((await upload(keys.analyst!, 'inputs/2025/data.csv', 'a,b\n1,2\n')).status).toBe(204);
    const stdout = await run(
      keys.analyst!,
      'import os\nprint(open("/data/company-data/inputs/2025/data.csv").read(), end="")\n' +
        'open("/data/company-data/inputs/2025/data.csv", "a").write("3,4\\n")\nos.mkdir("/data/company-data/inputs/2025/more")',
    );
    expect(stdout).toBe('a,b\n1,2\n');
    expect(await (await download(keys.analyst!, 'inputs/2025/data.csv')).text()).toBe('a,b\n1,2\n3,4\n');
    expect((await upload(keys.analyst!, 'inputs/2025/data.csv', 'replaced')).status).toBe(204);
    expect(await run(keys.analyst!, 'print(open("/data/company-data/inputs/2025/data.csv").read())')).toBe('replaced\n');
  });

  it('delete removes a file, and a directory with everything in it', async () => {
    await upload(keys.analyst!, 'old/a.txt', 'a');
    await upload(keys.analyst!, 'old/deeper/b.txt', 'b');
    await upload(keys.analyst!, 'single.txt', 'x');
    expect((await files(keys.analyst!, 'delete', { path: 'single.txt' })).body).toEqual({ deleted: true });
    expect((await files(keys.analyst!, 'delete', { path: 'old' })).status).toBe(200);
    expect((await files(keys.analyst!, 'delete', { path: 'old' })).status).toBe(404);
    expect(await run(keys.analyst!, 'import os\nprint(os.path.exists("/data/company-data/old"), os.path.exists("/data/company-data/single.txt"))')).toBe(
      'False False\n',
    );
    expect((await files(keys.analyst!, 'download_url', { path: 'single.txt' })).status).toBe(404);
  });

  it('a read-only attachment, or a key narrowed to read-only, reads but refuses uploads and deletes with 403', async () => {
    for (const key of [keys.reader!, keys.narrowed!]) {
      expect((await list(key)).some((entry) => entry.path === 'reports/summary.csv')).toBe(true);
      expect(await (await download(key, 'reports/summary.csv')).text()).toBe('total,1\n');
      const put = await files(key, 'upload_url', { path: 'reports/new.csv', content_length: 1 });
      expect([put.status, put.body.error]).toEqual([403, 'forbidden']);
      const deleted = await files(key, 'delete', { path: 'reports/summary.csv' });
      expect([deleted.status, deleted.body.error]).toEqual([403, 'forbidden']);
    }
    expect(await (await download(keys.analyst!, 'reports/summary.csv')).text()).toBe('total,1\n');
  });

  it('a key with a prefix sees, uploads and deletes only in its own subtree', async () => {
    expect(await list(keys['tenant-a']!)).toEqual([]);
    expect((await upload(keys['tenant-a']!, 'mine.txt', 'a')).status).toBe(204);
    expect((await list(keys['tenant-a']!)).map((entry) => entry.path)).toEqual(['mine.txt']);
    expect(await run(keys.analyst!, 'print(open("/data/company-data/tenants/a/mine.txt").read())')).toBe('a\n');
    expect(await run(keys['tenant-a']!, 'print(open("/data/company-data/mine.txt").read())')).toBe('a\n');
    // The rest of the volume is out of reach: its paths name files inside the key's subtree.
    expect((await files(keys['tenant-a']!, 'download_url', { path: 'reports/summary.csv' })).status).toBe(404);
    expect((await files(keys['tenant-a']!, 'delete', { path: 'reports' })).status).toBe(404);
    expect((await files(keys['tenant-a']!, 'list', { path: 'tenants' })).status).toBe(404);
    expect((await files(keys['tenant-a']!, 'download_url', { path: '../../reports/summary.csv' })).status).toBe(400);
    expect((await download(keys.analyst!, 'reports/summary.csv')).status).toBe(200);
  });

  it('never follows a link code planted in the volume, on list, download, upload or delete', async () => {
    await run(keys.analyst!, 'import os\nos.symlink("/etc", "/data/company-data/escape")\nos.symlink("/etc/passwd", "/data/company-data/leak")');
    const listed = await list(keys.analyst!);
    expect(listed.find((entry) => entry.path === 'escape')).toMatchObject({ is_directory: false, size: 0 });
    expect(listed.some((entry) => entry.path.startsWith('escape/'))).toBe(false);
    for (const [operation, body] of [
      ['list', { path: 'escape' }],
      ['download_url', { path: 'escape/passwd' }],
      ['download_url', { path: 'leak' }],
      ['delete', { path: 'escape/hostname' }],
    ] as const) {
      const response = await files(keys.analyst!, operation, body);
      expect([operation, response.status, response.body.error]).toEqual([operation, 400, 'validation_error']);
      expect(response.body.message).toContain('symbolic link');
    }
    const through = await upload(keys.analyst!, 'escape/airlock-planted', 'x');
    expect(through.status).toBe(400);
    expect(((await through.json()) as { message: string }).message).toContain('escape is a symbolic link');
    expect(existsSync('/etc/airlock-planted')).toBe(false);
    expect(existsSync('/etc/hostname')).toBe(true);
    expect((await upload(keys.analyst!, 'leak', 'x')).status).toBe(400);
    // Deleting a link removes the link, never its target.
    expect((await files(keys.analyst!, 'delete', { path: 'leak' })).status).toBe(200);
    expect(existsSync('/etc/passwd')).toBe(true);
    expect(await run(keys.analyst!, 'import os\nprint(os.readlink("/data/company-data/escape"), os.path.lexists("/data/company-data/leak"))')).toBe(
      '/etc False\n',
    );
    expect(volumeFiles().some((path) => path.endsWith('airlock-planted'))).toBe(false);
  });

  it("answers 404 for an unknown slug, another organization's volume, an unattached one and a detached key", async () => {
    const cases: Array<[string, string]> = [
      [keys.analyst!, 'no-such-volume'],
      [keys.analyst!, 'vault'],
      [keys.analyst!, 'unattached'],
      [keys.detached!, 'company-data'],
      [keys.other!, 'company-data'],
    ];
    for (const [key, id] of cases) {
      for (const [operation, body] of [
        ['list', {}],
        ['download_url', { path: 'reports/summary.csv' }],
        ['upload_url', { path: 'x.txt', content_length: 1 }],
        ['delete', { path: 'reports' }],
      ] as const) {
        const response = await files(key, operation, { id, ...body });
        expect([id, operation, response.status, response.body.error]).toEqual([id, operation, 404, 'not_found']);
      }
    }
    expect((await files(keys.other!, 'list', { id: 'vault' })).status).toBe(200);
  });

  it.each([['../outside.txt'], ['/etc/passwd'], ['a/../../b'], ['%2e%2e/%2e%2e/etc/passwd'], ['a\\..\\b'], ['a//b'], ['./a'], ['x\u0000y']])(
    'refuses the path %j with 400 on every operation',
    async (path) => {
      for (const [operation, extra] of [['list', {}], ['download_url', {}], ['delete', {}], ['upload_url', { content_length: 1 }]] as const) {
        const response = await files(keys.analyst!, operation, { path, ...extra });
        expect([operation, response.status, response.body.error]).toEqual([operation, 400, 'validation_error']);
      }
    },
  );

  it('an upload whose body differs from the declared length leaves nothing behind', async () => {
    const signed = await files(keys.analyst!, 'upload_url', { path: 'short.txt', content_length: 10 });
    const { url } = signed.body as unknown as SignedUrl;
    expect((await fetch(url, { method: 'PUT', body: 'only five' })).status).toBe(400);
    expect((await list(keys.analyst!)).some((entry) => entry.path === 'short.txt' || entry.name.startsWith('.airlock-upload-'))).toBe(false);
  });
});
