import { AxeBuilder } from '@axe-core/playwright';
import type { ApiKeySummary, AuditEntry, SandboxSummary } from '@airlock/contracts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { launchChromium, openConsolePage, signInAsOwner, type ConsolePage } from './support/browser.js';

// The web tools in the console, in a real browser against a real server, with no internet: a sandbox config with web
// tools made in the sandbox form (a refused value shown first), a key that narrows them, a SearXNG provider set in the
// Web page (stored, never reached: nothing listens at its port), then a run whose requests are all refused or fail
// before any connection, and the Web page showing them with their rules, one of them whole.
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
  // The 400 is the sandbox form's refused value.
  ({ page, errors: consoleErrors, screenshot } = await openConsolePage(browser, { expectedStatuses: [400, 404] }));
  await signInAsOwner(page, airlock.server.signInLink?.url ?? '');
  await page.waitForURL(`${airlock.url}/console/`);
});

afterAll(async () => {
  await browser?.close();
  await airlock?.close();
});

/** What axe finds wrong against WCAG 2.1 A and AA on the page as it is now. */
async function violations(): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return results.violations.flatMap((violation) => violation.nodes.map((node) => `${violation.id}: ${node.target.join(' ')}`));
}

const adminGet = async <T>(path: string) => (await airlock.request<T>(path, { apiKey: airlock.adminToken })).body;

describe('the web tools in the console', () => {
  it('makes a sandbox config with web tools, showing the API’s refusal as it words it', async () => {
    await page.getByRole('link', { name: 'Sandboxes' }).click();
    const create = page.getByRole('form', { name: 'New sandbox config' });
    await create.getByLabel('Name').fill('browsing');
    await create.getByLabel('Web tools').check();
    await create.getByLabel('HTTPS only').uncheck();
    await create.getByLabel('Blocked hosts').fill('ads.example.com\n*.tracker.example');
    await create.getByLabel('Requests per call').fill('0');
    await create.getByRole('button', { name: 'Create sandbox config' }).click();
    await expect.poll(() => create.getByRole('alert').textContent()).toBe('web.requests_per_call: at least 1 request per call');
    expect(await violations()).toEqual([]);
    await screenshot('web-sandbox-form');
    await create.getByLabel('Requests per call').fill('5');
    await create.getByLabel('Injection scan').selectOption('flag');
    await create.getByRole('button', { name: 'Create sandbox config' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Sandbox configs' }).getByText('browsing').isVisible()).toBe(true);

    const { sandboxes } = await adminGet<{ sandboxes: SandboxSummary[] }>('/admin/v1/sandboxes');
    expect(sandboxes.find((sandbox) => sandbox.name === 'browsing')?.web).toEqual({
      domains: { mode: 'blocklist', entries: ['ads.example.com', '*.tracker.example'] },
      https_only: false,
      requests_per_minute: 60,
      requests_per_call: 5,
      max_response_bytes: 2_097_152,
      injection_scan: 'flag',
      search: true,
    });
    expect(sandboxes.find((sandbox) => sandbox.name === 'default')?.web).toBeNull();

    await page.getByRole('button', { name: 'Explain how calls of browsing are configured' }).click();
    const chain = page.getByRole('table', { name: 'Configuration chain' });
    await expect
      .poll(() => chain.getByRole('row', { name: /^Web tools/ }).locator('td').nth(1).textContent())
      .toBe('blocklist: ads.example.com, *.tracker.example; http and https; 60/min, 5 per call; answers up to 2097152 bytes; scan flag; search');
    await screenshot('web-sandbox');

    // Edited, the form holds the policy as saved.
    await page.getByRole('button', { name: 'Edit browsing' }).click();
    const edit = page.getByRole('form', { name: 'Edit browsing' });
    expect(await edit.getByLabel('Web tools').isChecked()).toBe(true);
    expect(await edit.getByLabel('Requests per call').inputValue()).toBe('5');
    expect(await edit.getByLabel('HTTPS only').isChecked()).toBe(false);
    await edit.getByRole('button', { name: 'Close' }).click();
  });

  it('makes a key that narrows the web tools, and shows how', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Key name').fill('web-key');
    await page.getByLabel('Sandbox config').selectOption('browsing');
    await page.getByLabel('Key web tools').selectOption('narrowed');
    await page.getByLabel('Key web requests per call').fill('4');
    await page.getByLabel('Key injection scan').selectOption('block');
    await page.getByRole('button', { name: 'Create API key' }).click();
    key = (await page.getByTestId('new-key').textContent()) ?? '';
    expect(key).toMatch(/^sk-local-/);
    await expect.poll(() => page.getByRole('table', { name: 'API keys' }).getByText('web 4 per call, scan block').isVisible()).toBe(true);
    const { api_keys } = await adminGet<{ api_keys: ApiKeySummary[] }>('/admin/v1/api-keys');
    expect(api_keys.find((apiKey) => apiKey.name === 'web-key')?.web).toEqual({ requests_per_call: 4, injection_scan: 'block' });
    await screenshot('web-api-key');
    await page.getByRole('button', { name: 'Done' }).click();
  });

  it('sets the organization’s search provider', async () => {
    await page.getByRole('link', { name: 'Web', exact: true }).click();
    const provider = page.getByRole('region', { name: 'Search provider' });
    await expect.poll(() => provider.getByText('No search provider is set.').isVisible()).toBe(true);
    await provider.getByLabel('Provider').selectOption('searxng');
    await provider.getByLabel('Endpoint').fill('http://127.0.0.1:9/');
    await provider.getByRole('button', { name: 'Set search provider' }).click();
    await expect.poll(() => provider.getByTestId('search-provider').textContent()).toContain('searxng');
    expect(await provider.getByTestId('search-provider').textContent()).toContain('http://127.0.0.1:9/');
    expect(await adminGet<{ kind: string; endpoint: string }>('/admin/v1/web/search-provider')).toMatchObject({ kind: 'searxng', endpoint: 'http://127.0.0.1:9/' });
  });

  it('shows each web request of a run with its rule, and one whole', async () => {
    const run = await airlock.request<{ stdout: string; stderr: string; trace_id: string }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key,
      json: { language: 'bash', code: 'web-fetch http://10.0.0.1/; web-fetch file:///x; web-search bees; true' },
    });
    traceId = run.body.trace_id;
    expect(run.body.stderr).toMatch(/^web-fetch: blocked \(blocked_range:10\.0\.0\.0\/8\)/);
    const { entries } = await adminGet<{ entries: AuditEntry[] }>(`/admin/v1/audit?action=web&target_id=${traceId}`);
    expect(entries.map((entry) => [entry.action, entry.outcome])).toEqual([
      ['web.search', 'failure'],
      ['web.fetch', 'denied'],
      ['web.fetch', 'denied'],
    ]);

    await page.reload();
    const table = page.getByRole('table', { name: 'Web requests' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(3);
    const rows = await table.locator('tbody tr').evaluateAll((found) => found.map((row) => [...row.children].slice(1, 6).map((cell) => cell.textContent ?? '')));
    expect(rows).toEqual([
      ['web-key', 'search', 'bees', 'failure', entries[0]?.reason ?? ''],
      ['web-key', 'fetch', 'file:///x', 'denied', 'scheme'],
      ['web-key', 'fetch', 'http://10.0.0.1/', 'denied', 'blocked_range:10.0.0.0/8'],
    ]);

    // Filtered by outcome, by key and by execution.
    await page.getByLabel('Outcome').selectOption('denied');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    await page.getByLabel('Key', { exact: true }).selectOption('web-key');
    await page.getByLabel('Execution').fill(traceId);
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    await page.getByLabel('Execution').fill('trc_none');
    await expect.poll(() => page.getByText('No web request matches.').isVisible()).toBe(true);
    await page.getByLabel('Execution').fill('');
    await page.getByLabel('Outcome').selectOption('');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(3);
    await screenshot('web-requests');

    await page.getByRole('button', { name: 'Open the fetch of http://10.0.0.1/' }).click();
    const detail = page.getByRole('region', { name: 'Web request http://10.0.0.1/' });
    await detail.waitFor();
    const hops = detail.getByRole('table', { name: 'Hops' });
    expect(await hops.locator('tbody tr').first().textContent()).toContain('blocked_range:10.0.0.0/8');
    expect(await detail.getByText('Not scanned.').isVisible()).toBe(true);
    expect(await violations()).toEqual([]);
    await screenshot('web-request');
    await detail.getByRole('link', { name: traceId }).click();
    await page.waitForURL(`${airlock.url}/console/executions?trace=${traceId}`);
    await page.getByRole('region', { name: `Execution ${traceId}` }).waitFor();
    expect(consoleErrors).toEqual([]);
  });
});
