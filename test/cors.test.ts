import { describe, expect, it } from 'vitest';
import { appWithoutServices } from './support/app-without-services.js';

describe('CORS', () => {
  const app = appWithoutServices({ corsOrigins: ['https://app.example.com'] });
  const preflight = (origin: string) =>
    app.request('/v1/sandbox/execute', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, prefer' },
    });

  it('answers a preflight from an allowed origin before authentication', async () => {
    const response = await preflight('https://app.example.com');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(response.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/Prefer/);
  });

  it('gives other origins no CORS headers, and the default configuration none at all', async () => {
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    const closed = await appWithoutServices().request('/healthz', { headers: { origin: 'https://app.example.com' } });
    expect(closed.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets the browser read the request id and rate-limit headers', async () => {
    const response = await app.request('/openapi.json', { headers: { origin: 'https://app.example.com' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(response.headers.get('access-control-expose-headers')).toMatch(/X-Request-Id/);
    expect(response.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
  });
});
