import type { AdminRole } from './admin-token-repository.js';
import type { Database, Queryable } from './database.js';
import { generateId } from './ids.js';

export type RoleSource = 'oidc' | 'manual';

/** Someone who signs in to the console. */
export interface User {
  id: string;
  email: string;
  name: string | null;
  oidcIssuer: string | null;
  oidcSubject: string | null;
  /** A role over every organization; null: only the memberships' roles. */
  instanceRole: AdminRole | null;
  instanceRoleSource: RoleSource | null;
  createdAt: Date;
  lastSignInAt: Date | null;
  disabledAt: Date | null;
}

export interface Membership {
  orgId: string;
  role: AdminRole;
  source: RoleSource;
}

export interface Member extends Membership {
  user: User;
}

interface UserRow {
  id: string;
  email: string;
  name: string | null;
  oidc_issuer: string | null;
  oidc_subject: string | null;
  instance_role: AdminRole | null;
  instance_role_source: RoleSource | null;
  created_at: Date;
  last_sign_in_at: Date | null;
  disabled_at: Date | null;
}

const USER_COLUMNS = ['id', 'email', 'name', 'oidc_issuer', 'oidc_subject', 'instance_role', 'instance_role_source', 'created_at', 'last_sign_in_at', 'disabled_at'];
const SELECT_LIST = USER_COLUMNS.join(', ');

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    oidcIssuer: row.oidc_issuer,
    oidcSubject: row.oidc_subject,
    instanceRole: row.instance_role,
    instanceRoleSource: row.instance_role_source,
    createdAt: row.created_at,
    lastSignInAt: row.last_sign_in_at,
    disabledAt: row.disabled_at,
  };
}

/** Users and their roles: one over every organization, and one per organization they are a member of. */
export class UserRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  async get(id: string): Promise<User | null> {
    const [row] = await this.#database.query<UserRow>(`SELECT ${SELECT_LIST} FROM users WHERE id = $1`, [id]);
    return row ? toUser(row) : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const [row] = await this.#database.query<UserRow>(`SELECT ${SELECT_LIST} FROM users WHERE email = $1`, [email.toLowerCase()]);
    return row ? toUser(row) : null;
  }

  async findByOidcIdentity(issuer: string, subject: string): Promise<User | null> {
    const [row] = await this.#database.query<UserRow>(`SELECT ${SELECT_LIST} FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2`, [issuer, subject]);
    return row ? toUser(row) : null;
  }

  async list(): Promise<User[]> {
    return (await this.#database.query<UserRow>(`SELECT ${SELECT_LIST} FROM users ORDER BY email`)).map(toUser);
  }

  /** Throws UniqueViolationError (`users_email_key`, `users_oidc_identity_key`) when the email or identity is taken. */
  async create(user: { email: string; name?: string | null; instanceRole?: AdminRole | null; instanceRoleSource?: RoleSource | null }): Promise<User> {
    const [row] = await this.#database.query<UserRow>(
      `INSERT INTO users (id, email, name, instance_role, instance_role_source) VALUES ($1, $2, $3, $4, $5) RETURNING ${SELECT_LIST}`,
      [generateId('user'), user.email.toLowerCase(), user.name ?? null, user.instanceRole ?? null, user.instanceRole ? (user.instanceRoleSource ?? 'manual') : null],
    );
    return toUser(row as UserRow);
  }

  async recordSignIn(id: string): Promise<void> {
    await this.#database.query('UPDATE users SET last_sign_in_at = now() WHERE id = $1', [id]);
  }

  /** Links the user to its OIDC subject (it keeps the first one) and refreshes its name from the provider's claims. */
  async linkIdentity(id: string, identity: { issuer: string; subject: string; name: string | null }): Promise<void> {
    await this.#database.query(
      `UPDATE users SET oidc_issuer = coalesce(oidc_issuer, $2), oidc_subject = coalesce(oidc_subject, $3), name = coalesce($4, name)
       WHERE id = $1`,
      [id, identity.issuer, identity.subject, identity.name],
    );
  }

  async memberships(userId: string): Promise<Membership[]> {
    const rows = await this.#database.query<{ org_id: string; role: AdminRole; source: RoleSource }>(
      `SELECT m.org_id, m.role, m.source FROM memberships m JOIN organizations o ON o.id = m.org_id
       WHERE m.user_id = $1 AND o.deleted_at IS NULL ORDER BY m.org_id`,
      [userId],
    );
    return rows.map((row) => ({ orgId: row.org_id, role: row.role, source: row.source }));
  }

  async members(orgId: string): Promise<Member[]> {
    const rows = await this.#database.query<UserRow & { role: AdminRole; source: RoleSource; org_id: string }>(
      `SELECT ${USER_COLUMNS.map((column) => `u.${column}`).join(', ')}, m.role, m.source, m.org_id
       FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.email`,
      [orgId],
    );
    return rows.map((row) => ({ orgId: row.org_id, role: row.role, source: row.source, user: toUser(row) }));
  }

  /** Sets a member's role by hand (it then stays whatever the provider's claims say); returns the membership. */
  async setMembership(userId: string, orgId: string, role: AdminRole): Promise<Membership> {
    await this.#database.query(
      `INSERT INTO memberships (user_id, org_id, role, source) VALUES ($1, $2, $3, 'manual')
       ON CONFLICT (user_id, org_id) DO UPDATE SET role = excluded.role, source = 'manual'`,
      [userId, orgId, role],
    );
    return { orgId, role, source: 'manual' };
  }

  /** Removes a membership; false when there was none. */
  async removeMembership(userId: string, orgId: string): Promise<boolean> {
    return (await this.#database.query('DELETE FROM memberships WHERE user_id = $1 AND org_id = $2 RETURNING user_id', [userId, orgId])).length > 0;
  }

  /**
   * Makes the roles that come from the provider's claims exactly `instanceRole` and `organizationRoles`: memberships
   * and an instance role set by hand stay as they are.
   */
  async syncOidcRoles(userId: string, roles: { instanceRole: AdminRole | null; organizationRoles: ReadonlyMap<string, AdminRole> }): Promise<void> {
    await this.#database.transaction(async (tx) => {
      await tx.query(
        `UPDATE users SET instance_role = $2, instance_role_source = CASE WHEN $2::text IS NULL THEN NULL ELSE 'oidc' END
         WHERE id = $1 AND (instance_role_source IS NULL OR instance_role_source = 'oidc')`,
        [userId, roles.instanceRole],
      );
      await removeStaleOidcMemberships(tx, userId, [...roles.organizationRoles.keys()]);
      for (const [orgId, role] of roles.organizationRoles) {
        await tx.query(
          `INSERT INTO memberships (user_id, org_id, role, source) VALUES ($1, $2, $3, 'oidc')
           ON CONFLICT (user_id, org_id) DO UPDATE SET role = excluded.role WHERE memberships.source = 'oidc'`,
          [userId, orgId, role],
        );
      }
    });
  }
}

async function removeStaleOidcMemberships(tx: Queryable, userId: string, keep: string[]): Promise<void> {
  await tx.query(`DELETE FROM memberships WHERE user_id = $1 AND source = 'oidc' AND NOT (org_id = ANY($2::text[]))`, [userId, keep]);
}
