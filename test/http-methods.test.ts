import { describe, expect, it } from 'vitest';
import { appWithoutServices } from './support/app-without-services.js';

describe('methods a path lacks (in-process)', () => {
  const app = appWithoutServices();

  it.each([
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/openapi.json', 'GET, HEAD'],
    ['PUT', '/metrics', 'GET, HEAD'],
  ])('%s %s answers 405 with Allow: %s', async (method, path, allow) => {
    const response = await app.request(path, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(await response.json()).toMatchObject({ error: 'method_not_allowed', message: `${path} does not answer ${method}; it answers ${allow}` });
  });

  it('an unknown path is 404 whatever the method', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      expect((await app.request('/no/such/path', { method })).status).toBe(404);
    }
  });
});
