import { ErrorCode } from '@airlock/contracts';
import type { NewAuditEntry, User } from '@airlock/db';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { z } from 'zod';
import type { ZodOpenApiResponsesObject } from 'zod-openapi';
import type { AppEnv } from '../http/app-context.js';
import { commonHeaders, commonRequestHeaders, errors } from '../http/openapi/openapi-components.js';
import { operation, type Operation } from '../http/operation.js';
import { ApiError } from '../shared/api-error.js';
import {
  SESSION_COOKIE,
  authenticateAdmin,
  clearBrowserCookie,
  requestSource,
  requireSameOrigin,
  setBrowserCookie,
  type SessionOrigins,
} from './admin-authentication.js';
import type { AdminPrincipal } from './admin-principal.js';
import { SIGN_IN_FLOW_SECONDS, SignInRefused, type OidcSignIn } from './oidc-sign-in.js';
import type { SessionService } from './session-service.js';

/** The flow cookie binding an OIDC sign-in to the browser that began it. */
const FLOW_COOKIE = 'airlock_sign_in';
const FLOW_COOKIE_PATH = '/auth/oidc';
/** Where a browser lands after signing in, unless it asked for another page of this server. */
const DEFAULT_RETURN_PATH = '/console/';

const ReturnTo = z.object({
  return_to: z
    .string()
    .max(512)
    .regex(/^\/(?![/\\])[\x21-\x7e]*$/, 'a path on this server, such as /console/executions')
    .optional()
    .describe(`a path on this server to land on after signing in; default ${DEFAULT_RETURN_PATH}`),
});
const LinkPath = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'the secret of a sign-in link').describe('the secret of the one-time link') });

export interface SignInServices {
  sessions: SessionService;
  /** Absent when no OIDC provider is configured. */
  oidc: OidcSignIn | undefined;
  adminTokens: { authenticate(token: string): Promise<AdminPrincipal | null> };
  audit: { record(entry: NewAuditEntry): Promise<unknown> };
  origins: SessionOrigins;
}

const signInDocument = (operationId: string, summary: string, description: string, responses: ZodOpenApiResponsesObject) => ({
  operationId,
  tags: ['Sign-in'],
  summary,
  description,
  security: [],
  requestParams: { header: commonRequestHeaders },
  responses,
});

const redirect = (description: string): ZodOpenApiResponsesObject => ({
  302: { description, headers: commonHeaders },
});

/** Console sign-in and sign-out: OIDC (code + PKCE + state + nonce), the bootstrap owner's one-time link. */
export function signInOperations(services: SignInServices): Operation[] {
  const { sessions, oidc } = services;
  const audit = (context: Context<AppEnv>, entry: Pick<NewAuditEntry, 'action' | 'outcome' | 'reason' | 'actor' | 'targetId'> & { authMethod?: NewAuditEntry['authMethod'] }) =>
    services.audit
      .record({
        orgId: null,
        authMethod: 'session',
        targetType: 'user',
        changes: null,
        ...requestSource(context),
        ...entry,
      })
      .catch(() => undefined);

  /** Starts a session for `user` and sends the browser on to `returnTo`. */
  const signedIn = async (context: Context<AppEnv>, user: User, method: 'oidc' | 'link', returnTo: string) => {
    const { ip, userAgent } = requestSource(context);
    const { secret } = await sessions.start(user, { method, ip, userAgent });
    setBrowserCookie(context, SESSION_COOKIE, secret, { path: '/', maxAgeSeconds: sessions.times.maxSeconds });
    await audit(context, { action: 'auth.sign_in', outcome: 'success', reason: null, actor: user.email, targetId: user.id });
    context.header('Cache-Control', 'no-store');
    return context.redirect(returnTo, 302);
  };

  return [
    operation({
      method: 'get',
      path: '/auth/methods',
      document: signInDocument('signInMethods', 'How people sign in here', 'Whether an identity provider is configured; without one, the owner signs in with the one-time link the server printed.', {
        200: {
          description: 'The sign-in methods.',
          headers: commonHeaders,
          content: { 'application/json': { schema: z.object({ oidc: z.boolean(), link: z.boolean() }) } },
        },
      }),
      handle: (context) => context.json({ oidc: oidc !== undefined, link: oidc === undefined }),
    }),
    operation({
      method: 'get',
      path: '/auth/oidc/login',
      query: ReturnTo,
      document: signInDocument(
        'signInWithOidc',
        'Sign in through the identity provider',
        'Sends the browser to the configured OpenID Connect provider (authorization code with PKCE); it comes back to /auth/oidc/callback.',
        { ...redirect('To the identity provider.'), ...errors(ErrorCode.notFound, ErrorCode.validationError, ErrorCode.unavailable) },
      ),
      handle: async (context, { query }) => {
        if (!oidc) throw ApiError.notFound('sign-in through an identity provider is not configured here (AIRLOCK_OIDC_ISSUER); use the one-time link the server printed at start');
        const begun = await oidc.begin(query.return_to ?? DEFAULT_RETURN_PATH).catch(unavailable);
        setBrowserCookie(context, FLOW_COOKIE, begun.browserSecret, { path: FLOW_COOKIE_PATH, maxAgeSeconds: SIGN_IN_FLOW_SECONDS });
        context.header('Cache-Control', 'no-store');
        return context.redirect(begun.authorizationUrl.toString(), 302);
      },
    }),
    operation({
      method: 'get',
      path: '/auth/oidc/callback',
      document: signInDocument(
        'finishOidcSignIn',
        'Come back from the identity provider',
        'Checks the state (and the browser that began the sign-in), exchanges the code with its PKCE verifier, checks the ID token and its nonce, provisions the user as the role rules say, and starts a session (an HttpOnly cookie).',
        { ...redirect('Signed in: on to the page asked for.'), ...errors(ErrorCode.notFound, ErrorCode.validationError, ErrorCode.forbidden) },
      ),
      handle: async (context) => {
        if (!oidc) throw ApiError.notFound('sign-in through an identity provider is not configured here');
        const browserSecret = getCookie(context, FLOW_COOKIE);
        clearBrowserCookie(context, FLOW_COOKIE, FLOW_COOKIE_PATH);
        try {
          const { user, returnTo } = await oidc.complete(new URL(context.req.url), browserSecret);
          return await signedIn(context, user, 'oidc', returnTo);
        } catch (error) {
          if (!(error instanceof SignInRefused)) throw error;
          await audit(context, { action: 'auth.sign_in', outcome: error.outcome, reason: error.message, actor: error.email ?? 'anonymous', targetId: null, authMethod: 'none' });
          throw error.outcome === 'denied' ? ApiError.forbidden(error.message) : ApiError.validation(error.message);
        }
      },
    }),
    operation({
      method: 'get',
      path: '/auth/link/{token}',
      params: LinkPath,
      document: signInDocument(
        'showSignInLink',
        'The one-time sign-in link',
        'A page with one button that signs in (POST to the same URL): opening the link, or a preview of it, uses nothing up.',
        { 200: { description: 'The page.', headers: commonHeaders, content: { 'text/html': { schema: { type: 'string' } } } }, ...errors(ErrorCode.validationError) },
      ),
      handle: (context) =>
        context.html(
          '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in to Airlock</title><link rel="icon" href="data:,"></head>' +
            '<body><main><h1>Sign in to Airlock</h1><form method="post"><button type="submit">Sign in as the owner</button></form>' +
            '<p>This link works once.</p></main></body></html>',
          200,
          { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' },
        ),
    }),
    operation({
      method: 'post',
      path: '/auth/link/{token}',
      params: LinkPath,
      document: signInDocument(
        'useSignInLink',
        'Sign in with the one-time link',
        'Signs in the user the link was made for (the bootstrap owner) and uses the link up.',
        { ...redirect(`Signed in: on to ${DEFAULT_RETURN_PATH}.`), ...errors(ErrorCode.forbidden, ErrorCode.validationError) },
      ),
      handle: async (context, { params }) => {
        const user = await sessions.useLink(params.token);
        if (!user) {
          await audit(context, { action: 'auth.sign_in', outcome: 'denied', reason: 'unknown, used or expired sign-in link', actor: 'anonymous', targetId: null, authMethod: 'none' });
          throw ApiError.forbidden('this sign-in link is unknown, used or expired; restart the server for a new one, or sign in through the identity provider');
        }
        return signedIn(context, user, 'link', DEFAULT_RETURN_PATH);
      },
    }),
    operation({
      method: 'post',
      path: '/auth/logout',
      document: signInDocument(
        'signOut',
        'Sign out',
        "Ends this browser's session and clears its cookie; `end_session_url`, when the identity provider has one, signs out there too.",
        {
          200: {
            description: 'Signed out.',
            headers: commonHeaders,
            content: { 'application/json': { schema: z.object({ signed_out: z.boolean(), end_session_url: z.string().nullable() }) } },
          },
          ...errors(ErrorCode.forbidden),
        },
      ),
      handle: async (context) => {
        requireSameOrigin(context, services.origins);
        const principal = await authenticateAdmin(context, { adminTokens: services.adminTokens, sessions, origins: services.origins });
        clearBrowserCookie(context, SESSION_COOKIE, '/');
        if (principal?.sessionId) {
          await sessions.revoke(principal.sessionId, principal);
          await audit(context, { action: 'auth.sign_out', outcome: 'success', reason: null, actor: principal.actor, targetId: principal.userId });
        }
        const endSessionUrl = principal?.sessionId && oidc ? await oidc.endSessionUrl(undefined) : null;
        return context.json({ signed_out: principal?.sessionId != null, end_session_url: endSessionUrl });
      },
    }),
  ];
}

function unavailable(error: unknown): never {
  if (error instanceof SignInRefused) throw ApiError.unavailable(error.message, 30);
  throw error;
}
