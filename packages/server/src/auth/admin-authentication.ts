import type { NewAuditEntry } from '@airlock/db';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../http/app-context.js';
import type { AdminGate } from '../http/admin-operation.js';
import { ApiError } from '../shared/api-error.js';
import type { Logger } from '../shared/logger.js';
import type { AdminPrincipal } from './admin-principal.js';

export const SESSION_COOKIE = 'airlock_session';

/** Methods that change nothing: a session may make them from anywhere (they are still authenticated). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The origins a console session may send state-changing requests from: this server's, and the configured ones. */
export interface SessionOrigins {
  publicUrl: string | undefined;
  corsOrigins: string[];
}

/** The gate of the admin operations: admin tokens (`Authorization: Bearer`) or console sessions (the cookie). */
export function adminGate(services: {
  adminTokens: { authenticate(token: string): Promise<AdminPrincipal | null> };
  sessions: { authenticate(secret: string): Promise<AdminPrincipal | null> };
  admin: { organization(slug?: string): Promise<{ id: string }> };
  audit: { record(entry: NewAuditEntry): Promise<unknown> };
  origins: SessionOrigins;
  /** The other server nodes, told of every change (see AdminGate.changed). */
  changed?: () => Promise<void>;
  logger: Logger;
}): AdminGate {
  return {
    ...(services.changed && { changed: services.changed }),
    authenticate: (context) => authenticateAdmin(context, services),
    organizationId: async (slug) => (await services.admin.organization(slug).catch(() => null))?.id ?? null,
    record: (entry) => services.audit.record(entry),
    logger: services.logger,
  };
}

/**
 * The caller of an admin request: an admin token when the request has `Authorization: Bearer`, else the session of
 * its cookie. A session's state-changing request must come from this server's origin (or a configured one): a page
 * elsewhere cannot act with the operator's cookie (cross-site request forgery).
 */
export async function authenticateAdmin(
  context: Context<AppEnv>,
  services: {
    adminTokens: { authenticate(token: string): Promise<AdminPrincipal | null> };
    sessions: { authenticate(secret: string): Promise<AdminPrincipal | null> };
    origins: SessionOrigins;
  },
): Promise<AdminPrincipal | null> {
  const authorization = context.req.header('authorization');
  if (authorization !== undefined) {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
    return token === undefined ? null : services.adminTokens.authenticate(token);
  }
  const secret = getCookie(context, SESSION_COOKIE);
  if (secret === undefined) return null;
  if (!SAFE_METHODS.has(context.req.method)) requireSameOrigin(context, services.origins);
  return services.sessions.authenticate(secret);
}

/** Refuses (403) a request whose Origin is not this server's or a configured one. */
export function requireSameOrigin(context: Context<AppEnv>, origins: SessionOrigins): void {
  const origin = context.req.header('origin');
  const allowed = new Set([new URL(context.req.url).origin, ...[origins.publicUrl, ...origins.corsOrigins].filter((url) => url !== undefined).map((url) => new URL(url).origin)]);
  if (origin === undefined || !allowed.has(origin)) {
    throw ApiError.forbidden(
      `a console session's ${context.req.method} must come from this server's own pages (Origin ${origin === undefined ? 'missing' : JSON.stringify(origin)} is not ${[...allowed].join(' or ')})`,
    );
  }
}

/** Whether the session cookie must be Secure: always, except over plain http to a name other than loopback. */
function secureCookie(context: Context<AppEnv>): boolean {
  const url = new URL(context.req.url);
  return url.protocol === 'https:' || url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
}

/** Sets a cookie HttpOnly and SameSite=Lax, Secure where the browser will keep it. */
export function setBrowserCookie(context: Context<AppEnv>, name: string, value: string, options: { path: string; maxAgeSeconds: number }): void {
  setCookie(context, name, value, { path: options.path, httpOnly: true, sameSite: 'Lax', secure: secureCookie(context), maxAge: options.maxAgeSeconds });
}

export function clearBrowserCookie(context: Context<AppEnv>, name: string, path: string): void {
  deleteCookie(context, name, { path, httpOnly: true, sameSite: 'Lax', secure: secureCookie(context) });
}

/** Where a request came from, as audit entries and sessions record it. */
export function requestSource(context: Context<AppEnv>): { ip: string | null; userAgent: string | null; requestId: string | null } {
  return { ip: clientAddress(context), userAgent: context.req.header('user-agent')?.slice(0, 512) ?? null, requestId: context.get('requestId') ?? null };
}

/** The client's address, as its connection gives it. */
function clientAddress(context: Context<AppEnv>): string | null {
  return (context.env as Partial<HttpBindings> | undefined)?.incoming?.socket?.remoteAddress ?? null;
}
