import { generateKeyPair, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

/** An account of the provider: the claims its next sign-in sees. */
export interface OidcAccount {
  sub: string;
  email: string;
  /** True when left out. */
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

/**
 * A real OpenID Connect provider (panva's oidc-provider) on loopback, for system tests. One confidential client,
 * registered with `client_secret_basic`; oidc-provider takes its secret by `client_secret_post` as well (openid-client's
 * default for a client secret). Response type `code`, grant `authorization_code`, PKCE with S256 required. Scopes `openid` (sub and `groups`), `email` (email, email_verified), `profile` (name) and `groups`
 * (groups); scope claims are in the ID token as well as at userinfo. Sign-in goes through oidc-provider's development
 * interactions: a login form taking any login name (the account's `sub`) and password, then a consent form.
 * Endpoints: discovery at `{issuer}/.well-known/openid-configuration`, authorization `/auth`, token `/token`, userinfo
 * `/me`, JWKS `/jwks`, RP-initiated logout `/session/end`. Its cookies are named `oidc_provider_*`, so they never
 * collide with a relying party's on the same host.
 */
export interface OidcProviderFixture {
  /** e.g. http://127.0.0.1:PORT (no trailing slash), the `iss` of its tokens. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Adds or replaces an account (its claims as the next sign-in sees them, e.g. other groups). */
  setAccount(account: OidcAccount): void;
  /**
   * What the provider saw, for assertions: each authorization request's query parameters (code_challenge,
   * code_challenge_method, state, nonce, scope, redirect_uri...), oldest first.
   */
  authorizationRequests: Array<Record<string, string>>;
  /** Each token request's grant_type and whether it carried a code_verifier, oldest first. */
  tokenRequests: Array<{ grantType: string; hadCodeVerifier: boolean }>;
  /** Closes the HTTP server and every connection to it. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface OidcProviderOptions {
  redirectUris: string[];
  accounts: OidcAccount[];
  postLogoutRedirectUris?: string[];
}

/** The part of oidc-provider's Koa context the fixture reads. */
interface ProviderContext {
  href: string;
  type: string;
  body: unknown;
  oidc: { route?: string; params?: Record<string, unknown> };
}

/** The part of oidc-provider's Provider (a Koa application) the fixture uses; the package ships no types. */
interface ProviderApplication {
  use(middleware: (context: ProviderContext, next: () => Promise<void>) => Promise<void>): void;
  callback(): (request: IncomingMessage, response: ServerResponse) => void;
}

type ProviderConstructor = new (issuer: string, configuration: object) => ProviderApplication;

const CLIENT_ID = 'airlock-test-client';
const generateKeyPairAsync = promisify(generateKeyPair);

/** Starts the provider on 127.0.0.1 on a free port; stop() it when done. */
export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProviderFixture> {
  const accounts = new Map(options.accounts.map((account) => [account.sub, account]));
  const clientSecret = randomBytes(32).toString('base64url');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fixture: OidcProviderFixture = {
    issuer,
    clientId: CLIENT_ID,
    clientSecret,
    setAccount: (account) => void accounts.set(account.sub, account),
    authorizationRequests: [],
    tokenRequests: [],
    stop: () => closeServer(server),
  };
  try {
    const configuration = await providerConfiguration({ options, clientSecret, accounts });
    const { Provider } = await withoutProviderNotices(loadProviderModule);
    const provider = withoutProviderNotices(() => new Provider(issuer, configuration));
    provider.use(recordRequests(fixture));
    const handle = provider.callback();
    // A browser asks every site for its icon; the provider has none and logs an error for the path it does not know.
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (request.url === '/favicon.ico') response.writeHead(404).end();
      else void handle(request, response);
    });
  } catch (error) {
    await closeServer(server);
    throw error;
  }
  return fixture;
}

async function loadProviderModule(): Promise<{ Provider: ProviderConstructor }> {
  // @ts-expect-error oidc-provider ships no type declarations; ProviderApplication describes the part used here.
  return (await import('oidc-provider')) as { Provider: ProviderConstructor };
}

/** oidc-provider's configuration (option names as in its docs/README.md). */
async function providerConfiguration(input: {
  options: OidcProviderOptions;
  clientSecret: string;
  accounts: Map<string, OidcAccount>;
}): Promise<object> {
  const { options, clientSecret, accounts } = input;
  return {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        post_logout_redirect_uris: options.postLogoutRedirectUris ?? [],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    responseTypes: ['code'],
    claims: {
      openid: ['sub', 'groups'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    conformIdTokenClaims: false,
    findAccount: (_context: unknown, sub: string) => {
      const account = accounts.get(sub);
      return account === undefined ? undefined : { accountId: sub, claims: () => accountClaims(account) };
    },
    jwks: { keys: [await signingKey()] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      names: { session: 'oidc_provider_session', interaction: 'oidc_provider_interaction', resume: 'oidc_provider_resume' },
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
    clientBasedCORS: () => false,
    renderError,
  };
}

function accountClaims(account: OidcAccount): Record<string, unknown> {
  return {
    sub: account.sub,
    email: account.email,
    email_verified: account.email_verified ?? true,
    name: account.name,
    groups: account.groups ?? [],
  };
}

/** A new RSA key for RS256 ID tokens (the clients' default algorithm), as a private JWK. */
async function signingKey(): Promise<object> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig' };
}

/** Records authorization and token requests once oidc-provider has routed and parsed them. */
function recordRequests(fixture: OidcProviderFixture) {
  return async (context: ProviderContext, next: () => Promise<void>): Promise<void> => {
    try {
      await next();
    } finally {
      record(fixture, context);
    }
  };
}

function record(fixture: OidcProviderFixture, context: ProviderContext): void {
  const { route, params } = context.oidc;
  if (route === 'authorization') {
    fixture.authorizationRequests.push(Object.fromEntries(new URL(context.href).searchParams));
  } else if (route === 'token') {
    fixture.tokenRequests.push({
      grantType: typeof params?.grant_type === 'string' ? params.grant_type : '',
      hadCodeVerifier: typeof params?.code_verifier === 'string' && params.code_verifier !== '',
    });
  }
}

/** Errors that cannot go back to the client (e.g. an unknown redirect_uri) as JSON: `{ error, error_description }`. */
function renderError(context: ProviderContext, out: Record<string, string>): void {
  context.type = 'json';
  context.body = out;
}

/** The logout confirmation: oidc-provider's form (id op.logoutForm) and a button that submits logout=yes. */
function logoutSource(context: ProviderContext, form: string): void {
  context.type = 'html';
  context.body = `<!DOCTYPE html><title>Sign out</title>${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`;
}

function postLogoutSuccessSource(context: ProviderContext): void {
  context.type = 'html';
  context.body = '<!DOCTYPE html><title>Signed out</title><p>Signed out.</p>';
}

/**
 * Runs `action` with oidc-provider's console notices dropped: it warns about development-only defaults (in-memory
 * storage, dev interactions) and an unsupported Node.js line when it loads and configures itself.
 */
function withoutProviderNotices<T>(action: () => T): T {
  const { warn, info } = console;
  const filtered =
    (write: (...data: unknown[]) => void) =>
    (...data: unknown[]): void => {
      if (!/oidc-provider (NOTICE|WARNING):/.test(String(data[0]))) write(...data);
    };
  console.warn = filtered(warn);
  console.info = filtered(info);
  const restore = (): void => {
    console.warn = warn;
    console.info = info;
  };
  try {
    const result = action();
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  } catch (error) {
    restore();
    throw error;
  }
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/** A cookie jar per host, like a browser's: cookies are scoped to the host name, not to its port. */
export class CookieJar {
  /** host name → `name path` → cookie. */
  readonly #cookies = new Map<string, Map<string, StoredCookie>>();

  /** Takes the Set-Cookie headers of a response to `url`. */
  store(url: string | URL, setCookieHeaders: string[]): void {
    const target = new URL(url);
    for (const header of setCookieHeaders) {
      const cookie = parseSetCookie(header, target);
      if (cookie === null) continue;
      const cookies = this.#cookies.get(target.hostname) ?? new Map<string, StoredCookie>();
      this.#cookies.set(target.hostname, cookies);
      const key = `${cookie.name} ${cookie.path}`;
      if (cookie.expiresAt !== null && cookie.expiresAt <= Date.now()) cookies.delete(key);
      else cookies.set(key, cookie);
    }
  }

  /** The Cookie header for a request to `url`: every unexpired cookie of its host whose path covers it. */
  header(url: string | URL): string {
    const target = new URL(url);
    return this.#current(target.hostname)
      .filter((cookie) => pathMatches(cookie.path, target.pathname))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }

  /** The value of the cookie named `name` (of any host and path, or of `host`'s). */
  get(name: string, host?: string): string | undefined {
    const hosts = host === undefined ? [...this.#cookies.keys()] : [host];
    return hosts.flatMap((hostName) => this.#current(hostName)).find((cookie) => cookie.name === name)?.value;
  }

  #current(host: string): StoredCookie[] {
    const now = Date.now();
    return [...(this.#cookies.get(host)?.values() ?? [])].filter((cookie) => cookie.expiresAt === null || cookie.expiresAt > now);
  }
}

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** Epoch milliseconds; null for a session cookie. */
  expiresAt: number | null;
}

/** One Set-Cookie header: name, value, Path (the request's directory by default), Max-Age and Expires. */
function parseSetCookie(header: string, url: URL): StoredCookie | null {
  const [pair = '', ...attributes] = header.split(';');
  const separator = pair.indexOf('=');
  if (separator <= 0) return null;
  const cookie: StoredCookie = {
    name: pair.slice(0, separator).trim(),
    value: pair.slice(separator + 1).trim(),
    path: url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/',
    expiresAt: null,
  };
  let maxAge: number | null = null;
  for (const attribute of attributes) {
    const [key = '', ...rest] = attribute.split('=');
    const value = rest.join('=').trim();
    switch (key.trim().toLowerCase()) {
      case 'path':
        if (value.startsWith('/')) cookie.path = value;
        break;
      case 'max-age':
        maxAge = Number(value);
        break;
      case 'expires':
        cookie.expiresAt = Date.parse(value);
        break;
    }
  }
  if (maxAge !== null && Number.isFinite(maxAge)) cookie.expiresAt = Date.now() + maxAge * 1000;
  return cookie;
}

function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

export interface SignInStep {
  method: string;
  url: string;
  status: number;
  /** The Location header, resolved against `url`. */
  location: string | null;
  setCookie: string[];
}

export interface SignInOptions {
  /** Where the sign-in starts: the relying party's login URL, or an authorization URL of the provider. */
  startUrl: string;
  /**
   * The account to sign in as: the login name submitted on the provider's login form. One the provider does not have
   * ends the sign-in at the provider with a 500 (`server_error`), never at the callback.
   */
  sub: string;
  /** A jar to use and fill; a new one by default. One holding the provider's session signs that account in again. */
  jar?: CookieJar;
  /** Stop at a redirect to a URL starting with this, without requesting it (e.g. the RP's post-sign-in page). */
  stopAt?: string;
  /** Change a parameter of the authorization request before the provider sees it (tests of tampering). */
  tamperAuthorizationUrl?: (url: URL) => void;
  /**
   * Whether to request the callback the provider redirects to (true by default). With false the sign-in stops at that
   * redirect and `callbackUrl` holds the callback URL, code and state, unrequested: to replay it or change it.
   */
  followCallback?: boolean;
}

export interface SignInResult {
  steps: SignInStep[];
  jar: CookieJar;
  /** The response the sign-in stopped at. */
  final: Response;
  /** The URL the provider redirected back to (the relying party's callback with code and state, or an error). */
  callbackUrl: string | null;
}

interface PendingRequest {
  method: string;
  url: URL;
  body?: URLSearchParams;
}

const MAXIMUM_STEPS = 30;
/** Any password: the development interactions take any. */
const PASSWORD = 'any-password';

/**
 * Completes a sign-in the way a browser would, with a cookie jar per host (cookies are host-scoped, not port-scoped,
 * like a browser): GET `startUrl` (the relying party's login URL) without following redirects automatically, then
 * follows every 3xx by hand, submits the provider's login form as `sub` and its consent form, until a response that is
 * not a redirect and not one of those forms, or a redirect to `stopAt`, or (with `followCallback: false`) the
 * provider's redirect to the callback. The provider is the origin of the first authorization request (a URL with
 * client_id and response_type or request_uri); its redirect to another origin is the callback.
 */
export async function signInAs(options: SignInOptions): Promise<SignInResult> {
  const jar = options.jar ?? new CookieJar();
  const steps: SignInStep[] = [];
  let providerOrigin: string | null = null;
  let callbackUrl: string | null = null;
  let request: PendingRequest = { method: 'GET', url: new URL(options.startUrl) };
  const result = (final: Response): SignInResult => ({ steps, jar, final, callbackUrl });
  while (steps.length < MAXIMUM_STEPS) {
    if (providerOrigin === null && isAuthorizationRequest(request.url)) {
      providerOrigin = request.url.origin;
      options.tamperAuthorizationUrl?.(request.url);
    }
    const response = await send(request, jar);
    const location = response.headers.get('location');
    const next = location === null ? null : new URL(location, request.url);
    steps.push({ method: request.method, url: request.url.href, status: response.status, location: next?.href ?? null, setCookie: response.headers.getSetCookie() });
    if (next === null || response.status < 300 || response.status >= 400) {
      if (request.url.origin !== providerOrigin) return result(response);
      const page = await response.text();
      const form = interactionForm(page, request.url, options.sub);
      if (form === null) return result(new Response(page, { status: response.status, statusText: response.statusText, headers: response.headers }));
      request = form;
      continue;
    }
    if (callbackUrl === null && request.url.origin === providerOrigin && next.origin !== providerOrigin) {
      callbackUrl = next.href;
      if (options.followCallback === false) return result(response);
    }
    if (options.stopAt !== undefined && next.href.startsWith(options.stopAt)) return result(response);
    await response.body?.cancel();
    request = redirected(request, response.status, next);
  }
  throw new Error(`sign-in did not finish in ${MAXIMUM_STEPS} steps: ${steps.map((step) => `${step.status} ${step.url}`).join(', ')}`);
}

async function send(request: PendingRequest, jar: CookieJar): Promise<Response> {
  const headers: Record<string, string> = {};
  const cookie = jar.header(request.url);
  if (cookie !== '') headers.cookie = cookie;
  if (request.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const response = await fetch(request.url, { method: request.method, headers, body: request.body?.toString(), redirect: 'manual' });
  jar.store(request.url, response.headers.getSetCookie());
  return response;
}

function isAuthorizationRequest(url: URL): boolean {
  const parameters = url.searchParams;
  return parameters.has('client_id') && (parameters.has('response_type') || parameters.has('request_uri'));
}

/** The request a browser makes for a redirect: 307 and 308 repeat the method and body, the others GET. */
function redirected(request: PendingRequest, status: number, location: URL): PendingRequest {
  if (status === 307 || status === 308) return { ...request, url: location };
  return { method: 'GET', url: location };
}

/**
 * The submission of the provider's login or consent form on `page` (a form with a `prompt` field): its fields, with
 * `login` set to `sub` and any password; null when the page has no such form.
 */
function interactionForm(page: string, pageUrl: URL, sub: string): PendingRequest | null {
  for (const [, attributes = '', content = ''] of page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const fields = new URLSearchParams();
    for (const [input = ''] of content.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input, 'name');
      if (name !== undefined) fields.set(name, attribute(input, 'value') ?? '');
    }
    if (!fields.has('prompt')) continue;
    if (fields.has('login')) fields.set('login', sub);
    if (fields.has('password')) fields.set('password', PASSWORD);
    const url = new URL(attribute(attributes, 'action') ?? pageUrl.href, pageUrl);
    if (attribute(attributes, 'method')?.toUpperCase() === 'POST') return { method: 'POST', url, body: fields };
    url.search = fields.toString();
    return { method: 'GET', url };
  }
  return null;
}

/** An HTML attribute's value (quoted with " or '), entities &amp; &quot; &#39; &lt; &gt; decoded. */
function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'i').exec(tag);
  const value = match?.[1] ?? match?.[2];
  return value
    ?.replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

/** The settings that make an Airlock server sign people in through this provider, coming back to `redirectUrl`. */
export function airlockOidcEnvironment(provider: OidcProviderFixture, redirectUrl: string): Record<string, string> {
  return {
    AIRLOCK_OIDC_ISSUER: provider.issuer,
    AIRLOCK_OIDC_CLIENT_ID: provider.clientId,
    AIRLOCK_OIDC_CLIENT_SECRET: provider.clientSecret,
    AIRLOCK_OIDC_REDIRECT_URL: redirectUrl,
  };
}
