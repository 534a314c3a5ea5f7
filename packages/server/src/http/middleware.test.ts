import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { withHeaders } from './middleware.js';

function appWith(route: (app: Hono) => void): Hono {
  const app = new Hono();
  app.use('*', (context, next) => withHeaders(context, { 'X-Request-Id': 'req_1', 'RateLimit-Remaining': '9' }, next));
  app.onError((error, context) => context.json({ error: error.message }, 500));
  route(app);
  return app;
}

describe('withHeaders', () => {
  it('puts its headers on a response made with the context, which is answered as the handler made it', async () => {
    let made: Response | undefined;
    const app = appWith((routes) => routes.get('/', (context) => (made = context.json({ ok: true }))));
    const response = await app.request('/');
    expect(response).toBe(made);
    expect(response.headers.get('x-request-id')).toBe('req_1');
    expect(response.headers.get('ratelimit-remaining')).toBe('9');
  });

  it('puts them on a response made without the context, and on an error', async () => {
    const app = appWith((routes) => {
      routes.get('/stream', () => new Response(new Blob(['x']).stream(), { headers: { 'content-type': 'application/x-ndjson' } }));
      routes.get('/fails', () => {
        throw new Error('no');
      });
    });
    for (const path of ['/stream', '/fails']) {
      const response = await app.request(path);
      expect(response.headers.get('x-request-id')).toBe('req_1');
      expect(response.headers.get('ratelimit-remaining')).toBe('9');
    }
    expect(await (await app.request('/stream')).text()).toBe('x');
  });

  it('replaces a value the handler set in its place', async () => {
    const app = appWith((routes) => routes.get('/', () => new Response('x', { headers: { 'X-Request-Id': 'forged' } })));
    expect((await app.request('/')).headers.get('x-request-id')).toBe('req_1');
  });
});
