import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';

/** Debian's Chromium (scripts/setup.sh --test installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium, driven by playwright-core: headless, resolving no name but loopback's (a page can reach only the
 * test's servers), with no background traffic.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
}

/** Where the console's browser tests save their screenshots. */
export const CONSOLE_SCREENSHOTS = join(process.cwd(), '.cache', 'test-artifacts', 'console');

/** A console page and what it logged that the test did not provoke. */
export interface ConsolePage {
  page: Page;
  /** Errors the page logged or threw, except refusals of the statuses the test expects. */
  errors: string[];
  /** Saves the whole page as `<name>.png` in CONSOLE_SCREENSHOTS. */
  screenshot(name: string): Promise<Buffer>;
}

/**
 * A new page for the console. The browser logs every 4xx answer as an error: `expectedStatuses` are those the test
 * provokes on purpose (401 always: a 401 from /admin/v1/me is how the console learns no one is signed in).
 */
export async function openConsolePage(
  browser: Browser,
  options: { expectedStatuses?: number[]; viewport?: { width: number; height: number }; permissions?: string[] } = {},
): Promise<ConsolePage> {
  // A context of its own (not browser.newPage()), as axe-core's runner opens a page beside it.
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, permissions: options.permissions ?? [] });
  const page = await context.newPage();
  const expected = new RegExp(`status of (${[401, ...(options.expectedStatuses ?? [])].join('|')}) `);
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !expected.test(message.text())) errors.push(`${message.text()} ${message.location().url}`);
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await mkdir(CONSOLE_SCREENSHOTS, { recursive: true });
  return { page, errors, screenshot: (name) => page.screenshot({ path: join(CONSOLE_SCREENSHOTS, `${name}.png`), fullPage: true }) };
}

/** Signs the owner in through the one-time link the server printed. */
export async function signInAsOwner(page: Page, signInLink: string): Promise<void> {
  await page.goto(signInLink);
  await page.getByRole('button', { name: 'Sign in as the owner' }).click();
}
