import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

/** Serves `fetch` on host and port (0 picks a free one); resolves once listening, with the URL and a stop. */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  hostname: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => {
      const address = server.address() as AddressInfo;
      resolve({
        url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.once('error', reject);
  });
}
