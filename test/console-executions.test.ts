import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookDeliveryResponse } from '../packages/contracts/src/index.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { launchChromium, openConsolePage, signInAsOwner, type ConsolePage } from './support/browser.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

// Executions and webhooks in the console, in a real browser against a real server: a running execution's output
// appears as it is printed and the owner cancels it; a webhook whose receiver failed every attempt shows as failed on
// the Webhooks page, and Retry delivers it. Screenshots go to .cache/test-artifacts/console.
const MAX_ATTEMPTS = 2;
let airlock: AirlockFixture;
let receiver: WebhookReceiver;
let browser: Browser;
let page: Page;
let screenshot: ConsolePage['screenshot'];
let consoleErrors: string[];

beforeAll(async () => {
  airlock = await startAirlock({
    environment: {
      // The receiver listens on loopback, which only development mode lets webhooks reach.
      AIRLOCK_WEBHOOK_ALLOW_LOOPBACK: 'true',
      AIRLOCK_WEBHOOK_RETRY_SECONDS: '0.2',
      AIRLOCK_WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    },
  });
  receiver = await startWebhookReceiver();
  // Fails every attempt the dispatcher makes on its own; the one asked for from the console succeeds.
  receiver.respond = (_request, response) => response.writeHead(receiver.received.length <= MAX_ATTEMPTS ? 500 : 200).end();
  browser = await launchChromium();
  ({ page, errors: consoleErrors, screenshot } = await openConsolePage(browser, { viewport: { width: 1280, height: 900 } }));
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await airlock?.close();
});


/** Starts an execution with the API key and answers its trace id at once (`Prefer: respond-async`). */
async function startInBackground(body: Record<string, unknown>): Promise<string> {
  const response = await airlock.request<{ trace_id: string; status: string }>('/v1/sandbox/execute', {
    method: 'POST',
    headers: { prefer: 'respond-async' },
    json: body,
  });
  expect(response.status, JSON.stringify(response.body)).toBe(202);
  return response.body.trace_id;
}

const status = () => page.getByTestId('execution-status').textContent();
const stdout = () => page.getByRole('figure', { name: 'stdout' }).locator('pre').textContent();

describe('executions and webhooks in the console', () => {
  it('signs the owner in', async () => {
    await signInAsOwner(page, airlock.server.signInLink?.url ?? '');
    await page.waitForURL(`${airlock.url}/console/`);
    await expect.poll(() => page.getByTestId('actor').textContent()).toBe('owner@airlock.local');
  });

  it("shows a running execution's output as it is printed, and cancels it", async () => {
    const traceId = await startInBackground({
      language: 'python',
      timeout: 120,
      code: "import time\nprint('first line', flush=True)\ntime.sleep(2)\nprint('second line', flush=True)\ntime.sleep(100)\n",
    });
    await page.getByRole('link', { name: 'Executions' }).click();
    await page.getByRole('button', { name: `Open ${traceId}` }).click();
    await expect.poll(stdout, { timeout: 15_000 }).toContain('first line');
    expect(await status()).toBe('running');
    await expect.poll(stdout, { timeout: 15_000 }).toContain('second line');
    expect(await status()).toBe('running');
    await expect.poll(() => page.getByText('(live)').first().isVisible()).toBe(true);
    await screenshot('execution-live');

    await page.getByRole('button', { name: 'Cancel execution' }).click();
    await expect.poll(status, { timeout: 15_000 }).toBe('cancelled');
    expect(await page.getByRole('button', { name: 'Cancel execution' }).count()).toBe(0);
    expect(await stdout()).toBe('first line\nsecond line\n');
    const record = await airlock.request<{ status: string }>(`/v1/executions/${traceId}`);
    expect(record.body.status).toBe('cancelled');
    await screenshot('execution-cancelled');
  });

  it('lists a webhook that failed every attempt as failed; Retry delivers it', async () => {
    const traceId = await startInBackground({ language: 'python', code: "print('hooked')", webhook_url: receiver.url });
    await receiver.waitFor(MAX_ATTEMPTS);
    await expect
      .poll(async () => (await airlock.request<WebhookDeliveryResponse>(`/v1/executions/${traceId}/webhook`)).body.status, { timeout: 15_000 })
      .toBe('failed');

    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByLabel('State').selectOption('failed');
    const deliveries = page.getByRole('table', { name: 'Webhook deliveries' });
    const row = deliveries.getByRole('row').filter({ hasText: traceId });
    await expect.poll(() => row.isVisible()).toBe(true);
    expect(await row.textContent()).toContain('500');
    await screenshot('webhooks-failed');

    await page.getByRole('button', { name: `Retry ${traceId}` }).click();
    await receiver.waitFor(MAX_ATTEMPTS + 1);
    await expect.poll(() => page.getByText('No failed delivery.').isVisible()).toBe(true);
    await page.getByLabel('State').selectOption('');
    await expect.poll(() => row.getByRole('cell', { name: 'delivered', exact: true }).isVisible(), { timeout: 15_000 }).toBe(true);
    await screenshot('webhooks-delivered');

    await row.getByRole('link', { name: `Execution ${traceId}` }).click();
    await expect.poll(() => page.getByTestId('webhook-status').textContent()).toBe('delivered');
    const attempts = page.getByRole('table', { name: 'Webhook attempts' }).getByRole('row');
    await expect.poll(() => attempts.count()).toBe(MAX_ATTEMPTS + 2);
    expect(await attempts.last().textContent()).toContain('200');
    await screenshot('execution-webhook');
  });

  it('logged no error', () => {
    expect(consoleErrors).toEqual([]);
  });
});
