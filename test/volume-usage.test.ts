import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

// Managed volumes' usage and quota on the local backend: measured after calls and Files API changes, and a volume at
// its quota refuses calls that attach it writable (409) and uploads that do not fit (413).
let airlock: AirlockFixture;
const keys: Record<string, string> = {};

interface VolumeSummary {
  used_bytes: number | null;
  used_measured_at: string | null;
  quota_bytes: number | null;
}

const volume = async (slug: string) =>
  (await airlock.request<VolumeSummary>(`/admin/v1/volumes/${slug}`, { apiKey: airlock.adminToken })).body;

/** The volume's summary once its usage satisfies `done` (measurements run in the background after the change). */
async function usageOnce(slug: string, done: (usedBytes: number) => boolean): Promise<VolumeSummary> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const summary = await volume(slug);
    if (summary.used_bytes !== null && done(summary.used_bytes)) return summary;
    if (Date.now() > deadline) throw new Error(`volume ${slug}: used_bytes ${summary.used_bytes}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const run = (key: string, code: string) =>
  airlock.request<{ stdout: string; stderr: string; error?: string; message?: string }>('/v1/sandbox/execute', {
    method: 'POST',
    apiKey: key,
    json: { language: 'python', code },
  });

const files = (key: string, slug: string, operation: string, json: Record<string, unknown>) =>
  airlock.request<Record<string, unknown>>(`/v1/files/${operation}`, { method: 'POST', apiKey: key, json: { source: 'volume', id: slug, ...json } });

beforeAll(async () => {
  airlock = await startAirlock();
  await airlock.admin('/admin/v1/volumes', { name: 'Measured', slug: 'measured' });
  await airlock.admin('/admin/v1/volumes', { name: 'Small', slug: 'small', quota_bytes: 10_000 });
  await airlock.admin('/admin/v1/sandboxes', { name: 'writers' });
  await airlock.admin('/admin/v1/sandboxes/writers/attachments', { volume: 'measured' });
  await airlock.admin('/admin/v1/sandboxes/writers/attachments', { volume: 'small' });
  await airlock.admin('/admin/v1/sandboxes', { name: 'readers' });
  await airlock.admin('/admin/v1/sandboxes/readers/attachments', { volume: 'small', read_only: true });
  keys.writer = (await airlock.admin('/admin/v1/api-keys', { name: 'writer', sandbox: 'writers' })).key as string;
  keys.reader = (await airlock.admin('/admin/v1/api-keys', { name: 'reader', sandbox: 'readers' })).key as string;
}, 120_000);

afterAll(async () => {
  await airlock?.close();
});

describe('volume usage', () => {
  it('is null until measured, then counts what a call wrote, with when it was measured', async () => {
    expect(await volume('measured')).toMatchObject({ used_bytes: null, used_measured_at: null });
    const written = await run(keys.writer!, 'import os\nos.makedirs("/data/measured/d", exist_ok=True)\nopen("/data/measured/d/a.bin", "wb").write(b"x" * 123456)\nos.symlink("/usr", "/data/measured/usr")');
    expect(written.body.stderr).toBe('');
    const summary = await usageOnce('measured', (used) => used >= 123_456);
    // The link to /usr is not followed: only the file counts.
    expect(summary.used_bytes).toBe(123_456);
    expect(Date.parse(summary.used_measured_at ?? '')).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a volume at its quota refuses writable calls (409) and uploads that do not fit (413); deleting brings it back', async () => {
    const filled = await run(keys.writer!, 'open("/data/small/fill.bin", "wb").write(b"x" * 12000)');
    expect(filled.body.stderr).toBe('');
    await usageOnce('small', (used) => used >= 12_000);

    const refused = await run(keys.writer!, 'print("ran")');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'conflict' });
    expect(refused.body.message).toContain('/data/small: volume "small" holds 12000 bytes of its 10000-byte quota; no code ran');
    // A read-only attachment still reads it.
    const read = await run(keys.reader!, 'import os\nprint(os.path.getsize("/data/small/fill.bin"))');
    expect(read.body.stdout).toBe('12000\n');

    const upload = await files(keys.writer!, 'small', 'upload_url', { path: 'more.txt', content_length: 1 });
    expect(upload.status).toBe(413);
    expect(upload.body).toMatchObject({ error: 'payload_too_large' });
    expect(upload.body.message).toContain('volume "small" holds 12000 bytes of its 10000-byte quota');

    expect((await files(keys.writer!, 'small', 'delete', { path: 'fill.bin' })).status).toBe(200);
    await usageOnce('small', (used) => used === 0);
    const again = await run(keys.writer!, 'open("/data/small/note.txt", "w").write("x" * 4000)\nprint("ran")');
    expect(again.body.stdout).toBe('ran\n');
    await usageOnce('small', (used) => used === 4000);

    // 4000 used: 7000 more would pass the quota, 6000 fit.
    const tooBig = await files(keys.writer!, 'small', 'upload_url', { path: 'big.bin', content_length: 7000 });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.message).toContain('7000 more bytes do not fit');
    const fits = await files(keys.writer!, 'small', 'upload_url', { path: 'big.bin', content_length: 6000 });
    expect(fits.status, JSON.stringify(fits.body)).toBe(200);
    const { url, method, headers } = fits.body as { url: string; method: string; headers: Array<{ name: string; value: string }> };
    const put = await fetch(url, { method, headers: Object.fromEntries(headers.map((header) => [header.name, header.value])), body: 'y'.repeat(6000) });
    expect(put.status).toBe(204);
    await usageOnce('small', (used) => used === 10_000);
    expect((await run(keys.writer!, 'print(1)')).status).toBe(409);
  });

  it('raising the quota lets calls write again at once', async () => {
    await airlock.admin('/admin/v1/volumes/small', { quota_bytes: 1_000_000 }, 'PATCH');
    expect((await run(keys.writer!, 'print(1)')).body.stdout).toBe('1\n');
  });
});
