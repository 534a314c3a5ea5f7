import type { SessionSummary } from '@airlock/contracts';
import { UniqueViolationError, type Membership, type Session, type SessionMethod, type SessionRepository, type User, type UserRepository } from '@airlock/db';
import { ApiError } from '../shared/api-error.js';
import { randomToken, sha256 } from '../shared/secrets.js';
import type { AdminPrincipal } from './admin-principal.js';

export interface SessionTimes {
  /** A session unused this long ends. */
  idleSeconds: number;
  /** A session ends this long after sign-in, used or not. */
  maxSeconds: number;
}

/** How long the bootstrap owner's sign-in link works. */
const SIGN_IN_LINK_SECONDS = 3600;

/** The secret a session cookie carries: 43 URL-safe characters. */
const SESSION_SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Console sessions: made at sign-in, found from the cookie's secret, listed and revoked; and one-time sign-in links. */
export class SessionService {
  readonly #sessions: SessionRepository;
  readonly #users: UserRepository;
  readonly #times: SessionTimes;

  constructor(options: { sessions: SessionRepository; users: UserRepository; times: SessionTimes }) {
    this.#sessions = options.sessions;
    this.#users = options.users;
    this.#times = options.times;
  }

  get times(): SessionTimes {
    return this.#times;
  }

  /** Starts a session for a user; the secret goes in the cookie and is never stored. */
  async start(user: User, details: { method: SessionMethod; ip: string | null; userAgent: string | null }): Promise<{ session: Session; secret: string }> {
    const secret = randomToken(32);
    const session = await this.#sessions.create({
      secretSha256: sha256(secret),
      userId: user.id,
      method: details.method,
      ip: details.ip,
      userAgent: details.userAgent?.slice(0, 512) ?? null,
      expiresAt: new Date(Date.now() + this.#times.maxSeconds * 1000),
    });
    await this.#users.recordSignIn(user.id);
    return { session, secret };
  }

  /** The principal of a session cookie's secret; null when the session is unknown, ended, revoked or its user disabled. */
  async authenticate(secret: string): Promise<AdminPrincipal | null> {
    if (!SESSION_SECRET_PATTERN.test(secret)) return null;
    const session = await this.#sessions.findActive(sha256(secret), this.#times.idleSeconds);
    if (!session) return null;
    const user = await this.#users.get(session.userId);
    if (!user || user.disabledAt !== null) return null;
    return principalOf(user, await this.#users.memberships(user.id), session.id);
  }

  /** The user's sessions that have not ended. */
  async list(userId: string, currentSessionId: string | null): Promise<SessionSummary[]> {
    return (await this.#sessions.listActive(userId)).map((session) => summarizeSession(session, currentSessionId));
  }

  /** Ends a session: the principal's own, or any as an owner over every organization. */
  async revoke(id: string, principal: AdminPrincipal): Promise<SessionSummary> {
    const session = await this.#sessions.get(id);
    const allowed = session !== null && (session.userId === principal.userId || principal.instanceRole === 'owner');
    if (!allowed || session.revokedAt !== null) throw ApiError.notFound(`no session ${id} of yours`);
    const revoked = await this.#sessions.revoke(id);
    if (!revoked) throw ApiError.notFound(`no session ${id} of yours`);
    return summarizeSession(revoked, principal.sessionId);
  }

  /**
   * The bootstrap owner (an owner over every organization, signing in without an identity provider), made on first
   * use, and a new one-time sign-in link for it: the path to open on this server.
   */
  async bootstrapOwnerLink(email: string): Promise<{ user: User; path: string; expiresAt: Date }> {
    const user = (await this.#users.findByEmail(email)) ?? (await this.#createOwner(email));
    const token = randomToken(32);
    const expiresAt = new Date(Date.now() + SIGN_IN_LINK_SECONDS * 1000);
    await this.#sessions.createLink({ tokenSha256: sha256(token), userId: user.id, expiresAt });
    return { user, path: `/auth/link/${token}`, expiresAt };
  }

  /** The user a one-time link signs in, using the link up; null when it is unknown, used or expired. */
  async useLink(token: string): Promise<User | null> {
    if (!SESSION_SECRET_PATTERN.test(token)) return null;
    const userId = await this.#sessions.useLink(sha256(token));
    const user = userId === null ? null : await this.#users.get(userId);
    return user && user.disabledAt === null ? user : null;
  }

  async #createOwner(email: string): Promise<User> {
    try {
      return await this.#users.create({ email, name: 'Bootstrap owner', instanceRole: 'owner', instanceRoleSource: 'manual' });
    } catch (error) {
      // Another node made it first.
      const existing = error instanceof UniqueViolationError ? await this.#users.findByEmail(email) : null;
      if (!existing) throw error;
      return existing;
    }
  }
}

/** A user's principal: its email, its role over every organization and its memberships. */
function principalOf(user: User, memberships: Membership[], sessionId: string | null): AdminPrincipal {
  return {
    actor: user.email,
    authMethod: 'session',
    instanceRole: user.instanceRole,
    organizationRoles: new Map(memberships.map((membership) => [membership.orgId, membership.role])),
    sessionId,
    userId: user.id,
  };
}

function summarizeSession(session: Session, currentSessionId: string | null): SessionSummary {
  return {
    id: session.id,
    method: session.method,
    ip: session.ip,
    user_agent: session.userAgent,
    created_at: session.createdAt.toISOString(),
    last_seen_at: session.lastSeenAt.toISOString(),
    expires_at: session.expiresAt.toISOString(),
    current: session.id === currentSessionId,
  };
}
