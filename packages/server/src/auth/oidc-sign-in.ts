import { timingSafeEqual } from 'node:crypto';
import { isLoopbackHost } from '@airlock/contracts';
import { UniqueViolationError, type SessionRepository, type User, type UserRepository } from '@airlock/db';
import * as client from 'openid-client';
import type { OidcConfig } from '../config.js';
import { randomToken, sha256 } from '../shared/secrets.js';
import { mapRoles } from './role-mapping.js';

/** How long a sign-in may take between leaving for the provider and coming back. */
export const SIGN_IN_FLOW_SECONDS = 600;

/** A sign-in that does not go through, with a sentence the person can act on; `denied` when the rules give no role. */
export class SignInRefused extends Error {
  override readonly name = 'SignInRefused';

  constructor(
    message: string,
    readonly outcome: 'denied' | 'failure',
    readonly email: string | null = null,
  ) {
    super(message);
  }
}

/**
 * Sign-in through the operators' OpenID Connect provider: authorization code with PKCE (S256), state and nonce, all
 * kept server side (any node finishes a sign-in another started) and bound to the starting browser by a cookie. The
 * first sign-in provisions the user when the role rules give it a role; each sign-in sets again the roles the rules give.
 */
export class OidcSignIn {
  readonly #settings: OidcConfig;
  readonly #flows: SessionRepository;
  readonly #users: UserRepository;
  readonly #organizationId: (slug: string) => Promise<string | null>;
  #configuration: Promise<client.Configuration> | undefined;

  constructor(options: {
    settings: OidcConfig;
    flows: SessionRepository;
    users: UserRepository;
    organizationId: (slug: string) => Promise<string | null>;
  }) {
    this.#settings = options.settings;
    this.#flows = options.flows;
    this.#users = options.users;
    this.#organizationId = options.organizationId;
  }

  /** Where to send the browser, and the secret its flow cookie carries. `returnTo` is a path on this server. */
  async begin(returnTo: string): Promise<{ authorizationUrl: URL; browserSecret: string }> {
    const configuration = await this.#discover();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const browserSecret = randomToken(32);
    await this.#flows.startFlow({
      stateSha256: sha256(state),
      browserSha256: sha256(browserSecret),
      codeVerifier,
      nonce,
      returnTo,
      expiresAt: new Date(Date.now() + SIGN_IN_FLOW_SECONDS * 1000),
    });
    const authorizationUrl = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#settings.redirectUrl,
      scope: this.#settings.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { authorizationUrl, browserSecret };
  }

  /**
   * Finishes a sign-in from the provider's redirect back (`callbackUrl`, this server's URL with `code` and `state`),
   * in the browser that began it. Returns the user and where to send it; throws SignInRefused otherwise.
   */
  async complete(callbackUrl: URL, browserSecret: string | undefined): Promise<{ user: User; returnTo: string }> {
    const error = callbackUrl.searchParams.get('error');
    if (error !== null) {
      throw new SignInRefused(`the identity provider refused the sign-in: ${error} ${callbackUrl.searchParams.get('error_description') ?? ''}`.trim(), 'failure');
    }
    const state = callbackUrl.searchParams.get('state') ?? '';
    const flow = state === '' ? null : await this.#flows.takeFlow(sha256(state));
    if (!flow) throw new SignInRefused('this sign-in is unknown, expired or already finished; start again', 'failure');
    if (browserSecret === undefined || !timingSafeEqual(sha256(browserSecret), flow.browserSha256)) {
      throw new SignInRefused('this sign-in was started in another browser; start again here', 'denied');
    }
    const configuration = await this.#discover();
    // The redirect URL the provider saw, with the parameters it sent back (whatever host the request came in on).
    const returned = new URL(this.#settings.redirectUrl);
    returned.search = callbackUrl.search;
    let claims: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(configuration, returned, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      claims = { ...(tokens.claims() ?? {}) };
      if (claims.email === undefined || claims[this.#settings.roleClaim.split('.')[0] ?? ''] === undefined) {
        const subject = typeof claims.sub === 'string' ? claims.sub : client.skipSubjectCheck;
        claims = { ...(await client.fetchUserInfo(configuration, tokens.access_token, subject)), ...claims };
      }
    } catch (cause) {
      throw new SignInRefused(`the identity provider's answer was not accepted: ${(cause as Error).message}`, 'failure');
    }
    return { user: await this.#provision(claims), returnTo: flow.returnTo };
  }

  /** The provider's logout URL for a browser leaving, when it has one. */
  async endSessionUrl(postLogoutRedirectUrl: string | undefined): Promise<string | null> {
    const configuration = await this.#discover().catch(() => null);
    if (!configuration?.serverMetadata().end_session_endpoint) return null;
    return client
      .buildEndSessionUrl(configuration, {
        client_id: this.#settings.clientId,
        ...(postLogoutRedirectUrl !== undefined && { post_logout_redirect_uri: postLogoutRedirectUrl }),
      })
      .toString();
  }

  /** The user of these claims: found by its identity, linked by its verified email, or made when rules give it a role. */
  async #provision(claims: Record<string, unknown>): Promise<User> {
    const issuer = this.#settings.issuer;
    const subject = typeof claims.sub === 'string' ? claims.sub : '';
    const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : null;
    const name = typeof claims.name === 'string' ? claims.name : null;
    const mapped = mapRoles(claims, this.#settings);
    const organizationRoles = new Map<string, NonNullable<typeof mapped.instanceRole>>();
    for (const [slug, role] of mapped.organizationRoles) {
      const orgId = await this.#organizationId(slug);
      if (orgId !== null) organizationRoles.set(orgId, role);
    }
    const grantsRoles = mapped.instanceRole !== null || organizationRoles.size > 0;
    let user = await this.#users.findByOidcIdentity(issuer, subject);
    if (!user && email !== null && claims.email_verified === true) {
      const invited = await this.#users.findByEmail(email);
      if (invited && invited.oidcSubject === null) user = invited;
    }
    if (!user) {
      if (email === null) throw new SignInRefused('the identity provider gave no email for this account; Airlock names users by email', 'denied');
      if (!grantsRoles) throw new SignInRefused(`${email} has no role in Airlock: ask an owner to add you, or to map your groups to a role`, 'denied', email);
      try {
        user = await this.#users.create({ email, name });
      } catch (error) {
        if (error instanceof UniqueViolationError) {
          throw new SignInRefused(`${email} belongs to another Airlock user; an owner can remove it`, 'denied', email);
        }
        throw error;
      }
    }
    if (user.disabledAt !== null) throw new SignInRefused(`${user.email} is disabled`, 'denied', user.email);
    await this.#users.syncOidcRoles(user.id, { instanceRole: mapped.instanceRole, organizationRoles });
    await this.#users.linkIdentity(user.id, { issuer, subject, name });
    const refreshed = await this.#users.get(user.id);
    const memberships = await this.#users.memberships(user.id);
    if (!refreshed || (refreshed.instanceRole === null && memberships.length === 0)) {
      throw new SignInRefused(`${user.email} has no role in Airlock any more: ask an owner to add you`, 'denied', user.email);
    }
    return refreshed;
  }

  /** The provider's configuration, discovered once (again after a failure). */
  #discover(): Promise<client.Configuration> {
    const settings = this.#settings;
    this.#configuration ??= client
      .discovery(
        new URL(settings.issuer),
        settings.clientId,
        { client_secret: settings.clientSecret },
        client.ClientSecretBasic(settings.clientSecret),
        isLoopbackHost(new URL(settings.issuer).hostname) ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((error: unknown) => {
        this.#configuration = undefined;
        throw new SignInRefused(`the identity provider ${settings.issuer} cannot be reached: ${(error as Error).message}`, 'failure');
      });
    return this.#configuration;
  }
}
