import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { launchChromium, openConsolePage, signInAsOwner, type ConsolePage } from './support/browser.js';

// The console's file browser in a real browser against a real server: the owner uploads into a volume that a
// sandbox then reads at /data/<slug>, downloads what a sandbox wrote there (the same bytes) and deletes it, and
// browses a thread's home that an execution filled. Upload and download go straight to the signed URLs. Screenshots go
// to .cache/test-artifacts/console.
let airlock: AirlockFixture;
let browser: Browser;
let page: Page;
let screenshot: ConsolePage['screenshot'];
let volumeKey = '';
let consoleErrors: string[];
const UPLOADED = Buffer.from('uploaded from the console\n');

beforeAll(async () => {
  airlock = await startAirlock();
  browser = await launchChromium();
  // The test browses a thread that does not exist on purpose (404).
  ({ page, errors: consoleErrors, screenshot } = await openConsolePage(browser, { expectedStatuses: [404] }));
  await airlock.admin('/admin/v1/volumes', { name: 'Shared files', slug: 'shared' });
  await airlock.admin('/admin/v1/sandboxes', { name: 'file-workers' });
  await airlock.admin('/admin/v1/sandboxes/file-workers/attachments', { volume: 'shared' });
  volumeKey = (await airlock.admin('/admin/v1/api-keys', { name: 'file-worker', sandbox: 'file-workers' })).key as string;
});

afterAll(async () => {
  await browser?.close();
  await airlock?.close();
});


/** Runs python with the volume's key, expecting success; its stdout. */
async function runInVolume(code: string): Promise<string> {
  const answer = await airlock.request<{ success: boolean; stdout: string; stderr: string }>('/v1/sandbox/execute', {
    method: 'POST',
    json: { code },
    apiKey: volumeKey,
  });
  expect(answer.body, answer.body.stderr).toMatchObject({ success: true });
  return answer.body.stdout;
}

const filesTable = (name: string) => page.getByRole('table', { name });

describe('the console file browser', () => {
  it('signs the owner in and opens an empty volume', async () => {
    await signInAsOwner(page, airlock.server.signInLink?.url ?? '');
    await page.waitForURL(`${airlock.url}/console/`);
    await page.getByRole('link', { name: 'Files' }).click();
    await expect.poll(() => page.getByLabel('Volume').locator('option').allTextContents()).toEqual(['Shared files (shared)']);
    await page.getByRole('button', { name: 'Browse' }).click();
    await expect.poll(() => page.getByText('This directory is empty.').isVisible()).toBe(true);
    expect(await page.getByRole('navigation', { name: 'Breadcrumb' }).textContent()).toBe('volume shared');
  });

  it('uploads a file from the browser that a sandbox reads at /data/shared', async () => {
    await page.getByLabel('File to upload').setInputFiles({ name: 'hello.txt', mimeType: 'text/plain', buffer: UPLOADED });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Uploaded hello.txt.');
    const row = filesTable('Files in volume shared').getByRole('row').filter({ hasText: 'hello.txt' });
    await expect.poll(() => row.getByRole('cell').nth(1).textContent()).toBe(`${UPLOADED.length} B`);
    await screenshot('files-volume');
    expect(await runInVolume("print(open('/data/shared/hello.txt').read(), end='')")).toBe(UPLOADED.toString());
  });

  it('downloads what a sandbox wrote into a directory of the volume, byte for byte, then deletes it', async () => {
    const written = randomBytes(70_000);
    await runInVolume(
      `import os, base64\nos.makedirs('/data/shared/out', exist_ok=True)\nopen('/data/shared/out/result.bin', 'wb').write(base64.b64decode('${written.toString('base64')}'))`,
    );
    await page.reload();
    await page.getByRole('link', { name: 'out/' }).click();
    await expect.poll(() => page.getByRole('navigation', { name: 'Breadcrumb' }).textContent()).toBe('volume shared/out');
    await expect.poll(() => filesTable('Files in out').getByText('result.bin').isVisible()).toBe(true);
    await screenshot('files-volume-directory');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download result.bin' }).click()]);
    expect(download.suggestedFilename()).toBe('result.bin');
    expect((await readFile(await download.path())).equals(written)).toBe(true);

    await page.getByRole('button', { name: 'Delete result.bin' }).click();
    const confirmation = page.getByRole('alertdialog', { name: 'Delete result.bin?' });
    await expect.poll(() => confirmation.getByRole('button', { name: 'Cancel' }).evaluate((button) => button.matches(':focus'))).toBe(true);
    await screenshot('files-delete');
    await confirmation.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Deleted result.bin.');
    await expect.poll(() => page.getByText('This directory is empty.').isVisible()).toBe(true);
    expect(await runInVolume("import os\nprint(sorted(os.listdir('/data/shared/out')))")).toBe('[]\n');

    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'volume shared' }).click();
    await expect.poll(() => filesTable('Files in volume shared').getByText('hello.txt').isVisible()).toBe(true);
  });

  it('browses the home an execution left in a thread, downloads a file of it and uploads one the next execution reads', async () => {
    await airlock.execute({
      code: "import os\nos.makedirs('notes', exist_ok=True)\nopen('notes/today.txt', 'w').write('written in a thread\\n')",
      thread_id: 'console-thread',
    });
    await page.getByLabel('Source').selectOption('thread');
    await page.getByLabel('Thread id').fill('console-thread');
    await page.getByRole('button', { name: 'Browse' }).click();
    await page.getByRole('link', { name: 'notes/' }).click();
    const row = filesTable('Files in notes').getByRole('row').filter({ hasText: 'today.txt' });
    await expect.poll(() => row.getByRole('cell').nth(1).textContent()).toBe('20 B');
    await screenshot('files-thread');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download today.txt' }).click()]);
    expect(await readFile(await download.path(), 'utf8')).toBe('written in a thread\n');

    // An upload is a new layer of the thread: the next execution in it finds the file in its home.
    await page.getByLabel('File to upload').setInputFiles({ name: 'from-console.txt', mimeType: 'text/plain', buffer: UPLOADED });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await expect.poll(() => filesTable('Files in notes').getByText('from-console.txt').isVisible()).toBe(true);
    const read = await airlock.execute({ code: "print(open('notes/from-console.txt').read(), end='')", thread_id: 'console-thread' });
    expect(read.stdout).toBe(UPLOADED.toString());
  });

  it('says so when a thread does not exist', async () => {
    await page.getByLabel('Thread id').fill('never-ran');
    await page.getByRole('button', { name: 'Browse' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe(
      'no thread never-ran in organization "default"; a thread starts with an execution that names its thread_id',
    );
  });

  it('lets a viewer list and download but not upload or delete; the audit log names each file, never a signature', async () => {
    const viewer = (await airlock.admin('/admin/v1/admin-tokens', { name: 'file-viewer', role: 'viewer' })).token as string;
    const call = (operation: string, json: Record<string, unknown>) =>
      airlock.request<Record<string, unknown>>(`/admin/v1/files/${operation}?organization=default`, { method: 'POST', json, apiKey: viewer });
    expect((await call('list', { source: 'volume', id: 'shared' })).status).toBe(200);
    expect((await call('download_url', { source: 'volume', id: 'shared', path: 'hello.txt' })).status).toBe(200);
    expect((await call('upload_url', { source: 'volume', id: 'shared', path: 'x.txt', content_length: 1 })).status).toBe(403);
    expect((await call('delete', { source: 'volume', id: 'shared', path: 'hello.txt' })).status).toBe(403);

    const audit = await airlock.request<{ entries: Record<string, unknown>[] }>(
      '/admin/v1/audit?action=file',
      { apiKey: airlock.adminToken },
    );
    const entries = audit.body.entries;
    expect(entries).toContainEqual(
      expect.objectContaining({
        actor: 'owner@airlock.local',
        action: 'file.upload_url',
        target_id: 'volume:shared',
        outcome: 'success',
        changes: { source: 'volume', id: 'shared', path: 'hello.txt' },
      }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({ actor: 'file-viewer', action: 'file.delete', outcome: 'denied', reason: expect.stringContaining('needs the admin role') }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ action: 'file.download_url', target_id: 'thread:console-thread', changes: expect.objectContaining({ path: 'notes/today.txt' }) }));
    expect(JSON.stringify(entries)).not.toContain('/files/signed/');
  });

  it('logged no error in the browser', () => {
    expect(consoleErrors).toEqual([]);
  });
});
