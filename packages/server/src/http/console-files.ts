import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import type { Hono } from 'hono';
import type { AppEnv } from './app-context.js';
import { commonHeaders, commonRequestHeaders } from './openapi/openapi-components.js';
import { operation, type Operation } from './operation.js';

/** `GET /console`: on to the console's pages, below /console/ (which are files, not API operations). */
export const consoleEntryOperation: Operation = operation({
  method: 'get',
  path: '/console',
  document: {
    operationId: 'console',
    tags: ['Console'],
    summary: 'The admin console',
    description: 'Redirects to /console/, where the server serves the admin console (a single-page app) and its files.',
    security: [],
    requestParams: { header: commonRequestHeaders },
    responses: { 301: { description: 'To /console/.', headers: commonHeaders } },
  },
  handle: (context) => context.redirect('/console/', 301),
});

/** Where the console's built files are: packages/console/dist. */
export function consoleDirectory(): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@airlock/console/package.json')), 'dist');
  } catch {
    return null;
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/**
 * The console's pages load only this server's scripts, styles and data; no other site may frame them. The session
 * cookie is what the pages call the admin API with.
 */
const CONSOLE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/**
 * Serves the console below /console: its built files (hashed assets cached for a year), and its index page for every
 * other path, where the single-page app routes. 503 when the console was not built.
 */
export function serveConsole(app: Hono<AppEnv>, directory: string | null): void {
  app.get('/console/*', async (context) => {
    if (directory === null) return context.text('the console is not built here: run npm run build', 503);
    const relative = normalize(decodeURIComponent(context.req.path.slice('/console/'.length)));
    const inside = relative !== '' && relative !== '.' && !relative.startsWith('..') && !relative.includes(`${sep}..`);
    const file = inside ? join(directory, relative) : null;
    const found = file !== null && (await stat(file).then((entry) => entry.isFile(), () => false));
    const path = found ? file : join(directory, 'index.html');
    const body = await readFile(path).catch(() => null);
    if (body === null) return context.text('the console is not built here: run npm run build', 503);
    const immutable = found && relative.startsWith(`assets${sep}`);
    return context.body(body, 200, {
      ...CONSOLE_HEADERS,
      'Content-Type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  });
}
