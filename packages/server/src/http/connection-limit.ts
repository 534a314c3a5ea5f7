import type { HttpBindings } from '@hono/node-server';
import { ErrorCode } from '@airlock/contracts';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../shared/api-error.js';
import type { AppEnv } from './app-context.js';

/** What the count needs of a connection: where it comes from and when it closes. */
export interface CountedConnection {
  readonly remoteAddress?: string | undefined;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Open connections per client address, capped at `max` (0: no cap). A connection beyond the cap is not counted; it is
 * marked refused, and its first request is answered 503 `unavailable` and closed (`refuseExcessConnections`).
 */
export class ConnectionsPerAddress {
  readonly #open = new Map<string, number>();
  readonly #refused = new WeakSet<CountedConnection>();

  constructor(readonly max: number) {}

  /** Counts a new connection until it closes, or marks it refused when its address holds `max` already. */
  track(connection: CountedConnection): void {
    const address = connection.remoteAddress;
    if (this.max === 0 || address === undefined) return;
    const open = this.openFrom(address);
    if (open >= this.max) {
      this.#refused.add(connection);
      return;
    }
    this.#open.set(address, open + 1);
    connection.once('close', () => {
      const left = this.openFrom(address) - 1;
      if (left > 0) this.#open.set(address, left);
      else this.#open.delete(address);
    });
  }

  isRefused(connection: CountedConnection): boolean {
    return this.#refused.has(connection);
  }

  /** Counted connections from `address`. */
  openFrom(address: string): number {
    return this.#open.get(address) ?? 0;
  }
}

/** Answers a request on a refused connection with 503 `unavailable`, `Retry-After: 1` and `Connection: close`. */
export function refuseExcessConnections(connections: ConnectionsPerAddress): MiddlewareHandler<AppEnv> {
  return async (context, next) => {
    // The Node adapter passes the connection; requests made in-process (app.request) have none.
    const socket = (context.env as Partial<HttpBindings> | undefined)?.incoming?.socket;
    if (socket && connections.isRefused(socket)) {
      throw new ApiError(
        ErrorCode.unavailable,
        `your address holds ${connections.max} connections to this server already, the most one address may; ` +
          'reuse them (keep-alive) or retry after Retry-After seconds',
        { 'Retry-After': '1', Connection: 'close' },
      );
    }
    await next();
  };
}
