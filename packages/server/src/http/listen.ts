import type { ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import type { ConnectionsPerAddress } from './connection-limit.js';

/** How often Node checks every connection's headers deadline (its default, 30 s, would let a 10 s limit run to 40 s). */
const CONNECTIONS_CHECK_INTERVAL_MS = 1000;

/**
 * Node's limits on slow clients (docs/decisions/0017-slow-clients.md): headers within `headersTimeoutSeconds` or a
 * bare 408 and a closed connection. The whole-request timeout is off: it would cut long uploads, and bodies have
 * their own deadline (body-deadline.ts).
 */
function serverOptions(headersTimeoutSeconds: number): ServerOptions {
  return {
    headersTimeout: headersTimeoutSeconds * 1000,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_INTERVAL_MS, headersTimeoutSeconds * 1000),
  };
}

/** Serves `fetch` on host and port (0 picks a free one); resolves once listening, with the URL and a stop. */
export function listen(options: {
  fetch: (request: Request, bindings: HttpBindings | Http2Bindings) => Response | Promise<Response>;
  hostname: string;
  port: number;
  headersTimeoutSeconds: number;
  /** Counts each new connection by client address. */
  connections: ConnectionsPerAddress;
}): Promise<{ url: string; close(): Promise<void> }> {
  const { fetch, hostname, port } = options;
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port, serverOptions: serverOptions(options.headersTimeoutSeconds) }, () => {
      const address = server.address() as AddressInfo;
      resolve({
        url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.on('connection', (socket) => options.connections.track(socket));
    server.once('error', reject);
  });
}
