import type { UsageResponse } from '@airlock/contracts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { launchChromium, openConsolePage, signInAsOwner, type ConsolePage } from './support/browser.js';

// The console's overview in a real browser against a real server: a key runs code (one call fails, one keeps a
// thread, one writes 3 MiB to a volume), and the overview's tiles and charts show the same numbers as the usage API;
// the range selector, the empty state of an organization without executions, and the error state.
let airlock: AirlockFixture;
let browser: Browser;
let page: Page;
let screenshot: ConsolePage['screenshot'];
let consoleErrors: string[];
const today = new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  airlock = await startAirlock();
  browser = await launchChromium();
  // The error state's 503 is the test's own.
  ({ page, errors: consoleErrors, screenshot } = await openConsolePage(browser, { expectedStatuses: [503] }));
});

afterAll(async () => {
  await browser?.close();
  await airlock?.close();
});


/** The usage API's answer for the default organization. */
async function usage(days: number): Promise<UsageResponse> {
  return (await airlock.admin(`/admin/v1/usage?days=${days}`, undefined, 'GET')) as unknown as UsageResponse;
}

/** A tile's value, by its name. */
const tile = (label: string) => page.locator('dl[aria-label="Totals"] > div', { has: page.getByText(label, { exact: true }) }).locator('dd').first();

/** A duration as the console writes it: three significant digits, in ms below a second; '—' for none. */
const shown = (value: number | null | undefined) =>
  value === null || value === undefined ? '—' : value >= 1000 ? `${Number((value / 1000).toPrecision(3))} s` : `${Number(value.toPrecision(3))} ms`;

/** The visually hidden table of a chart: its rows as the text of their cells. */
async function chartRows(name: string): Promise<string[][]> {
  const table = page.getByRole('table', { name });
  return table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent ?? '')));
}

describe('the console overview', () => {
  it('records what a key runs: successes, a failure, a thread, 3 MiB in a volume', async () => {
    const { key } = (await airlock.admin('/admin/v1/api-keys', { name: 'usage', sandbox: 'default' })) as { key: string };
    const execute = async (body: Record<string, unknown>) =>
      (await airlock.request<{ status: string }>('/v1/sandbox/execute', { method: 'POST', apiKey: key, json: body })).body.status;
    await airlock.admin('/admin/v1/volumes', { name: 'Scratch', slug: 'scratch' });
    await airlock.admin('/admin/v1/sandboxes/default/attachments', { volume: 'scratch' });
    expect(await execute({ code: 'print(6 * 7)' })).toBe('success');
    expect(await execute({ code: 'sum(range(200_000))' })).toBe('success');
    expect(await execute({ code: 'raise SystemExit(3)' })).toBe('failed');
    expect(await execute({ language: 'bash', code: 'echo kept > note.txt', thread_id: 'usage-home' })).toBe('success');
    expect(await execute({ language: 'bash', code: 'head -c 3145728 /dev/zero > /data/scratch/three-mib' })).toBe('success');
    // The volume is measured in the background after the call.
    await expect
      .poll(async () => ((await airlock.admin('/admin/v1/volumes', undefined, 'GET')) as { volumes: Array<{ used_bytes: number | null }> }).volumes[0]?.used_bytes)
      .toBe(3_145_728);
  });

  it('shows the organization’s executions, durations, CPU time, threads and storage as the usage API counts them', async () => {
    const expected = await usage(14);
    expect(expected.totals).toMatchObject({ executions: 5, active_threads: 1, storage_bytes: 3_145_728, volumes: 1 });
    expect(expected.totals.by_status).toMatchObject({ success: 4, failed: 1, running: 0 });

    await signInAsOwner(page, airlock.server.signInLink?.url ?? '');
    await page.waitForURL(`${airlock.url}/console/`);
    await expect.poll(() => page.getByRole('table', { name: 'Your organizations' }).getByText('default').first().isVisible()).toBe(true);

    await expect.poll(() => tile('Executions').textContent()).toBe('5');
    expect(await tile('Active threads').textContent()).toBe('1');
    expect(await tile('Storage').textContent()).toBe('3.0 MiB');
    expect(await page.getByText('1 volume', { exact: true }).isVisible()).toBe(true);
    expect(await tile('CPU time').textContent()).toBe(`${Number(expected.totals.cpu_seconds.toPrecision(3))} s`);
    expect(await tile('Duration p50').textContent()).toBe(shown(expected.totals.p50_duration_ms));
    expect(await page.getByText(`p95 ${shown(expected.totals.p95_duration_ms)}`, { exact: true }).isVisible()).toBe(true);

    expect(await page.getByRole('img', { name: /^Executions per day by status/ }).isVisible()).toBe(true);
    const byStatus = await chartRows('Executions per day by status');
    expect(byStatus).toHaveLength(14);
    // Only the statuses that occurred are drawn: success and failed.
    expect(byStatus.at(-1)).toEqual([today, '4', '1']);
    expect(byStatus.slice(0, -1).every((row) => row.slice(1).every((cell) => cell === '0'))).toBe(true);

    const durations = await chartRows('Duration per day, p50 and p95');
    const todays = expected.daily.at(-1);
    expect(durations.at(-1)).toEqual([today, shown(todays?.p50_duration_ms), shown(todays?.p95_duration_ms)]);
    expect(durations[0]).toEqual([expected.daily[0]?.day, '—', '—']);
    const cpu = await chartRows('CPU seconds per day');
    expect(cpu.at(-1)).toEqual([today, `${Number((todays?.cpu_seconds ?? 0).toPrecision(3))} s`]);
    await screenshot('overview-usage');
  });

  it('shows 7 or 30 days as chosen', async () => {
    await page.getByRole('button', { name: '7 days' }).click();
    await expect.poll(async () => (await chartRows('Executions per day by status')).length).toBe(7);
    expect(await page.getByRole('button', { name: '7 days' }).getAttribute('aria-pressed')).toBe('true');
    await page.getByRole('button', { name: '30 days' }).click();
    await expect.poll(async () => (await chartRows('CPU seconds per day')).length).toBe(30);
    expect(await tile('Executions').textContent()).toBe('5');
  });

  it('fits a phone’s width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.locator('html').evaluate((root) => root.scrollWidth - root.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot('overview-usage-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('says so when the organization ran nothing, and shows a failure to load', async () => {
    await airlock.admin('/admin/v1/organizations', { name: 'Quiet', slug: 'quiet' });
    await page.reload();
    await page.getByRole('combobox', { name: /^Organization/ }).selectOption('quiet');
    await expect.poll(() => page.getByText('No executions in the last 14 days.').isVisible()).toBe(true);
    expect(await tile('Executions').textContent()).toBe('0');
    expect(await page.getByRole('table', { name: 'Executions per day by status' }).count()).toBe(0);

    await page.route('**/admin/v1/usage?**', (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'unavailable', message: 'the database is not reachable' }) }),
    );
    await page.getByRole('button', { name: '7 days' }).click();
    // The console retries a failed query three times, a few seconds in all, before it shows the failure.
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 20_000 }).toBe('the database is not reachable');
    await page.unroute('**/admin/v1/usage?**');
    expect(consoleErrors).toEqual([]);
  });
});
