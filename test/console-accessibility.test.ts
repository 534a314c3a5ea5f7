import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { launchChromium, openConsolePage, signInAsOwner } from './support/browser.js';

// Every page of the console checked by axe-core against WCAG 2.1 A and AA, with data in its tables, at desktop and
// phone width; and a sandbox config made with the keyboard alone.
let airlock: AirlockFixture;
let browser: Browser;
let page: Page;
let consoleErrors: string[];

const PAGES: [path: string, heading: string][] = [
  ['/console/', 'Overview'],
  ['/console/sandboxes', 'Sandboxes'],
  ['/console/api-keys', 'API keys'],
  ['/console/playground', 'Playground'],
  ['/console/executions', 'Executions'],
  ['/console/webhooks', 'Webhooks'],
  ['/console/web', 'Web'],
  ['/console/storage', 'Storage'],
  ['/console/files?source=volume&id=shared', 'Files'],
  ['/console/connectors', 'Connectors'],
  ['/console/images', 'Images'],
  ['/console/members', 'Members'],
  ['/console/audit', 'Audit'],
  ['/console/settings', 'Settings'],
];

/** What axe finds wrong on the page as it is now, one line per rule and element. */
async function violations(): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return results.violations.flatMap((violation) => violation.nodes.map((node) => `${violation.id} (${violation.impact}): ${node.target.join(' ')}: ${node.failureSummary}`));
}

beforeAll(async () => {
  airlock = await startAirlock();
  await airlock.admin('/admin/v1/volumes', { name: 'Shared', slug: 'shared' });
  await airlock.admin('/admin/v1/sandboxes/default/attachments', { volume: 'shared' });
  await airlock.request('/v1/sandbox/execute', { method: 'POST', apiKey: airlock.apiKey, json: { language: 'bash', code: 'echo hello > /data/shared/hello.txt' } });
  browser = await launchChromium();
  // The Web page asks for the search provider, 404 while the organization has none.
  ({ page, errors: consoleErrors } = await openConsolePage(browser, { expectedStatuses: [404] }));
});

afterAll(async () => {
  await browser?.close();
  await airlock?.close();
});

describe('the console for everyone', () => {
  it('has no WCAG 2.1 A or AA violation on the sign-in page', async () => {
    await page.goto(`${airlock.url}/console/`);
    await expect.poll(() => page.getByText('Open the one-time sign-in link').isVisible()).toBe(true);
    expect(await violations()).toEqual([]);
  });

  it.each([
    ['desktop', { width: 1280, height: 800 }],
    ['phone', { width: 390, height: 844 }],
  ] as const)('has no WCAG 2.1 A or AA violation on any page, with data, at %s width', async (_name, viewport) => {
    if (!(await page.getByTestId('actor').isVisible())) await signInAsOwner(page, airlock.server.signInLink?.url ?? '');
    await page.setViewportSize(viewport);
    const found: string[] = [];
    for (const [path, heading] of PAGES) {
      await page.goto(`${airlock.url}${path}`);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      // The page's data is on screen (its tables, or their empty states) before it is checked.
      await page.waitForLoadState('networkidle');
      found.push(...(await violations()).map((line) => `${path}: ${line}`));
    }
    // And what opens within a page: a sandbox config edited and explained, an execution whole.
    await page.goto(`${airlock.url}/console/sandboxes`);
    await page.getByRole('button', { name: 'Edit default' }).click();
    await page.getByRole('button', { name: 'Explain how calls of default are configured' }).click();
    await page.getByRole('table', { name: 'Configuration chain' }).waitFor();
    await page.waitForLoadState('networkidle');
    found.push(...(await violations()).map((line) => `/console/sandboxes (edit, explain): ${line}`));
    await page.goto(`${airlock.url}/console/executions`);
    await page.getByRole('button', { name: /^Open trc_/ }).first().click();
    await page.getByRole('region', { name: /^Execution trc_/ }).waitFor();
    await page.waitForLoadState('networkidle');
    found.push(...(await violations()).map((line) => `/console/executions (one open): ${line}`));
    expect(found, found.join('\n')).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('makes a sandbox config with the keyboard alone', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${airlock.url}/console/sandboxes`);
    const name = page.getByRole('form', { name: 'New sandbox config' }).getByLabel('Name');
    await name.waitFor();
    let presses = 0;
    while (!(await name.evaluate((element) => element === element.ownerDocument.activeElement)) && presses < 80) {
      await page.keyboard.press('Tab');
      presses += 1;
    }
    expect(presses).toBeLessThan(80);
    await page.keyboard.type('by-keyboard');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('table', { name: 'Sandbox configs' }).getByText('by-keyboard').isVisible()).toBe(true);
  });
});
