import type { Database } from './database.js';
import { generateId } from './ids.js';

export type SessionMethod = 'oidc' | 'link';

/** A console session, as stored: never its secret, only the secret's SHA-256. */
export interface Session {
  id: string;
  userId: string;
  method: SessionMethod;
  ip: string | null;
  userAgent: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** An OIDC sign-in under way. */
export interface SignInFlow {
  browserSha256: Buffer;
  codeVerifier: string;
  nonce: string;
  returnTo: string;
}

interface SessionRow {
  id: string;
  user_id: string;
  method: SessionMethod;
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

const SELECT_LIST = 'id, user_id, method, ip, user_agent, created_at, last_seen_at, expires_at, revoked_at';

/** How often a session's last_seen_at is written: often enough for an idle time of minutes. */
const LAST_SEEN_RESOLUTION_SECONDS = 30;

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    method: row.method,
    ip: row.ip,
    userAgent: row.user_agent,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** Console sessions, OIDC sign-ins under way, and one-time sign-in links; each single use where it must be. */
export class SessionRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  async create(session: { secretSha256: Buffer; userId: string; method: SessionMethod; ip: string | null; userAgent: string | null; expiresAt: Date }): Promise<Session> {
    const [row] = await this.#database.query<SessionRow>(
      `INSERT INTO sessions (id, secret_sha256, user_id, method, ip, user_agent, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING ${SELECT_LIST}`,
      [generateId('session'), session.secretSha256, session.userId, session.method, session.ip, session.userAgent, session.expiresAt],
    );
    return toSession(row as SessionRow);
  }

  /**
   * The unrevoked session with this secret that is neither past its absolute end nor idle for longer than
   * `idleSeconds`, seen now; null otherwise.
   */
  async findActive(secretSha256: Buffer, idleSeconds: number): Promise<Session | null> {
    const [row] = await this.#database.query<SessionRow>(
      `UPDATE sessions SET last_seen_at = CASE WHEN last_seen_at < now() - make_interval(secs => $3) THEN now() ELSE last_seen_at END
       WHERE secret_sha256 = $1 AND revoked_at IS NULL AND expires_at > now() AND last_seen_at > now() - make_interval(secs => $2)
       RETURNING ${SELECT_LIST}`,
      [secretSha256, idleSeconds, LAST_SEEN_RESOLUTION_SECONDS],
    );
    return row ? toSession(row) : null;
  }

  /** A user's sessions that have not ended, newest first. */
  async listActive(userId: string): Promise<Session[]> {
    const rows = await this.#database.query<SessionRow>(
      `SELECT ${SELECT_LIST} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC`,
      [userId],
    );
    return rows.map(toSession);
  }

  async get(id: string): Promise<Session | null> {
    const [row] = await this.#database.query<SessionRow>(`SELECT ${SELECT_LIST} FROM sessions WHERE id = $1`, [id]);
    return row ? toSession(row) : null;
  }

  /** Revokes a session not revoked yet; null when there is none. */
  async revoke(id: string): Promise<Session | null> {
    const [row] = await this.#database.query<SessionRow>(
      `UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING ${SELECT_LIST}`,
      [id],
    );
    return row ? toSession(row) : null;
  }

  async startFlow(flow: SignInFlow & { stateSha256: Buffer; expiresAt: Date }): Promise<void> {
    await this.#database.query('DELETE FROM sign_in_flows WHERE expires_at < now()');
    await this.#database.query(
      'INSERT INTO sign_in_flows (state_sha256, browser_sha256, code_verifier, nonce, return_to, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [flow.stateSha256, flow.browserSha256, flow.codeVerifier, flow.nonce, flow.returnTo, flow.expiresAt],
    );
  }

  /** The unexpired flow of this state, removed: a callback is accepted once. */
  async takeFlow(stateSha256: Buffer): Promise<SignInFlow | null> {
    const [row] = await this.#database.query<{ browser_sha256: Buffer; code_verifier: string; nonce: string; return_to: string }>(
      'DELETE FROM sign_in_flows WHERE state_sha256 = $1 AND expires_at > now() RETURNING browser_sha256, code_verifier, nonce, return_to',
      [stateSha256],
    );
    return row ? { browserSha256: row.browser_sha256, codeVerifier: row.code_verifier, nonce: row.nonce, returnTo: row.return_to } : null;
  }

  async createLink(link: { tokenSha256: Buffer; userId: string; expiresAt: Date }): Promise<void> {
    await this.#database.query('INSERT INTO sign_in_links (token_sha256, user_id, expires_at) VALUES ($1, $2, $3)', [
      link.tokenSha256,
      link.userId,
      link.expiresAt,
    ]);
  }

  /** The user of an unused, unexpired link, which is used up; null otherwise. */
  async useLink(tokenSha256: Buffer): Promise<string | null> {
    const [row] = await this.#database.query<{ user_id: string }>(
      'UPDATE sign_in_links SET used_at = now() WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id',
      [tokenSha256],
    );
    return row?.user_id ?? null;
  }

  /** Deletes sessions, sign-ins under way and links that ended more than `days` ago; returns how many sessions went. */
  async deleteEnded(days: number): Promise<number> {
    await this.#database.query('DELETE FROM sign_in_flows WHERE expires_at < now()');
    await this.#database.query('DELETE FROM sign_in_links WHERE expires_at < now() - make_interval(days => $1)', [days]);
    const rows = await this.#database.query(
      'DELETE FROM sessions WHERE coalesce(revoked_at, expires_at) < now() - make_interval(days => $1) RETURNING id',
      [days],
    );
    return rows.length;
  }
}
