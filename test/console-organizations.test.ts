import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { launchChromium, openConsolePage, signInAsOwner, type ConsolePage } from './support/browser.js';

// The console's organizations in a real browser against a real server: the owner creates one from Settings, switches
// to it, exports its data, is refused deleting it while a key is active, erases it after typing its slug, and deletes
// an empty one. Screenshots go to .cache/test-artifacts/console/organizations*.png.
let airlock: AirlockFixture;
let browser: Browser;
let page: Page;
let screenshot: ConsolePage['screenshot'];
let consoleErrors: string[];
let key = '';
let traceId = '';

beforeAll(async () => {
  airlock = await startAirlock();
  browser = await launchChromium();
  // The test sends an invalid slug (400) and deletes an organization with an active key (409) on purpose.
  ({ page, errors: consoleErrors, screenshot } = await openConsolePage(browser, { expectedStatuses: [400, 409] }));
});

afterAll(async () => {
  await browser?.close();
  await airlock?.close();
});

const picker = () => page.locator('header select');
const pickerSlugs = async () => Promise.all((await picker().locator('option').all()).map((option) => option.getAttribute('value')));
const admin = <T = Record<string, unknown>>(path: string, init: { method?: string; json?: unknown } = {}) =>
  airlock.request<T>(path, { apiKey: airlock.adminToken, ...init });

describe('organizations in the console', () => {
  it('signs the owner in and creates organizations from Settings; the header picker lists them', async () => {
    await signInAsOwner(page, airlock.server.signInLink?.url ?? '');
    await page.waitForURL(`${airlock.url}/console/`);
    await page.getByRole('link', { name: 'Settings' }).click();
    // The default organization is neither deleted nor erased from here.
    const table = page.getByRole('table', { name: 'Organizations' });
    await expect.poll(() => table.getByText('default', { exact: true }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Delete organization default' }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Erase default' }).count()).toBe(0);

    const create = page.getByRole('region', { name: 'Organizations' });
    await create.getByLabel('Organization name').fill('Bad');
    await create.getByLabel('Organization slug').fill('Not A Slug');
    await create.getByRole('button', { name: 'Create organization' }).click();
    await expect.poll(() => create.getByRole('alert').textContent()).toMatch(/^slug: /);
    for (const [name, slug] of [['Acme', 'acme'], ['Spare', 'spare']] as const) {
      await create.getByLabel('Organization name').fill(name);
      await create.getByLabel('Organization slug').fill(slug);
      await create.getByRole('button', { name: 'Create organization' }).click();
      await expect.poll(() => table.getByText(slug, { exact: true }).isVisible()).toBe(true);
    }
    expect(await create.getByRole('alert').count()).toBe(0);
    await expect.poll(pickerSlugs).toEqual(['acme', 'default', 'spare']);
    await screenshot('organizations');
  });

  it('switches to the new organization, where a key runs code, and exports its data as JSON Lines', async () => {
    await picker().selectOption('acme');
    await expect.poll(() => page.getByRole('button', { name: 'Export acme as JSON Lines' }).isVisible()).toBe(true);
    expect((await admin('/admin/v1/sandboxes?organization=acme', { method: 'POST', json: { name: 'work' } })).status).toBe(201);
    const created = await admin<{ key: string }>('/admin/v1/api-keys', { method: 'POST', json: { name: 'acme-key', organization: 'acme', sandbox: 'work' } });
    expect(created.status).toBe(201);
    key = created.body.key;
    const run = await airlock.request<{ status: string; stdout: string; trace_id: string }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key,
      json: { code: 'print("from acme")' },
    });
    expect(run.body).toMatchObject({ status: 'success', stdout: 'from acme\n' });
    traceId = run.body.trace_id;

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export acme as JSON Lines' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^airlock-acme-.*\.jsonl$/);
    const lines = (await readFile(await download.path(), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; data: Record<string, unknown> });
    expect(lines[0]).toMatchObject({ type: 'organization', data: { slug: 'acme' } });
    expect(lines).toContainEqual({ type: 'api_key', data: expect.objectContaining({ name: 'acme-key' }) });
    expect(lines).toContainEqual({ type: 'execution', data: expect.objectContaining({ trace_id: traceId, code: 'print("from acme")', stdout: 'from acme\n' }) });
    expect(JSON.stringify(lines)).not.toContain(key);
  });

  it("shows the API's refusal to delete an organization while one of its keys is active", async () => {
    await page.getByRole('button', { name: 'Delete organization acme' }).click();
    await expect
      .poll(() => page.getByRole('region', { name: 'Organizations' }).getByRole('alert').textContent())
      .toBe('organization "acme" has the API keys "acme-key"; revoke them first');
    await expect.poll(pickerSlugs).toContain('acme');
    await screenshot('organizations-refused');
  });

  it('erases the organization once its slug is typed: its key is refused and its data gone', async () => {
    const erase = page.getByRole('form', { name: 'Erase acme' });
    const button = erase.getByRole('button', { name: 'Erase acme' });
    expect(await button.isDisabled()).toBe(true);
    await erase.getByLabel('Type acme to confirm').fill('acm');
    expect(await button.isDisabled()).toBe(true);
    await erase.getByLabel('Type acme to confirm').fill('acme');
    expect(await button.isEnabled()).toBe(true);
    await button.click();
    await expect.poll(() => page.getByRole('status', { name: 'Erasure of acme' }).textContent()).toMatch(/^Erased acme: .*1 api keys.*1 executions/);
    expect(await erase.count()).toBe(0);
    await screenshot('organizations-erased');

    await expect.poll(pickerSlugs).toEqual(['default', 'spare']);
    expect(await picker().inputValue()).toBe('default');
    await expect.poll(() => page.getByRole('table', { name: 'Organizations' }).getByText('acme', { exact: true }).count()).toBe(0);
    expect(await page.getByRole('region', { name: 'Organizations' }).getByRole('alert').count()).toBe(0);
    const refused = await airlock.request('/v1/sandbox/execute', { method: 'POST', apiKey: key, json: { code: 'print(1)' } });
    expect(refused.status).toBe(401);
    const organizations = await admin<{ organizations: Array<{ id: string; slug: string }> }>('/admin/v1/organizations');
    expect(organizations.body.organizations.map((organization) => organization.slug)).toEqual(expect.not.arrayContaining(['acme']));
    expect((await admin('/admin/v1/executions?organization=acme')).status).toBe(404);
    // A new organization of that slug starts empty: the erased one's execution is nowhere.
    expect((await admin('/admin/v1/organizations', { method: 'POST', json: { name: 'Acme again', slug: 'acme' } })).status).toBe(201);
    expect((await admin<{ executions: unknown[] }>('/admin/v1/executions?organization=acme')).body.executions).toEqual([]);
    expect((await admin(`/admin/v1/executions/${traceId}?organization=acme`)).status).toBe(404);
    expect((await admin('/admin/v1/organizations/acme', { method: 'DELETE' })).status).toBe(204);
  });

  it('deletes an empty organization, which leaves the header picker', async () => {
    await picker().selectOption('default');
    await expect.poll(() => page.getByRole('button', { name: 'Export default as JSON Lines' }).isVisible()).toBe(true);
    expect(await page.getByRole('form', { name: /^Erase / }).count()).toBe(0);
    await page.getByRole('button', { name: 'Delete organization spare' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Organizations' }).getByText('spare', { exact: true }).count()).toBe(0);
    await expect.poll(pickerSlugs).toEqual(['default']);
    expect((await admin('/admin/v1/organizations/spare')).status).toBe(404);
    await screenshot('organizations-deleted');
  });

  it('logged no error in the browser', () => {
    expect(consoleErrors).toEqual([]);
  });
});
