import type { Browser } from 'playwright-core';

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
