import type { Queryable } from './database.js';
import { LAST_USED_RESOLUTION_SECONDS } from './api-key-repository.js';
import { generateId } from './ids.js';

export type AdminRole = 'owner' | 'admin' | 'viewer';

/** An admin token as stored: never the token itself, only its SHA-256. */
export interface AdminToken {
  id: string;
  name: string;
  displayPrefix: string;
  role: AdminRole;
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewAdminToken {
  name: string;
  secretSha256: Buffer;
  displayPrefix: string;
  role: AdminRole;
  createdBy: string;
}

interface AdminTokenRow {
  id: string;
  name: string;
  display_prefix: string;
  role: AdminRole;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const SELECT_LIST = 'id, name, display_prefix, role, created_by, created_at, last_used_at, revoked_at';

function toAdminToken(row: AdminTokenRow): AdminToken {
  return {
    id: row.id,
    name: row.name,
    displayPrefix: row.display_prefix,
    role: row.role,
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export class AdminTokenRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  /** Throws UniqueViolationError: `admin_tokens_name_key` when an unrevoked token has the name, `..._secret_sha256_key` for a known secret. */
  async create(token: NewAdminToken): Promise<AdminToken> {
    const [row] = await this.#database.query<AdminTokenRow>(
      `INSERT INTO admin_tokens (id, name, secret_sha256, display_prefix, role, created_by) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING ${SELECT_LIST}`,
      [generateId('adminToken'), token.name, token.secretSha256, token.displayPrefix, token.role, token.createdBy],
    );
    return toAdminToken(row as AdminTokenRow);
  }

  /** Every token, revoked ones too, newest first. */
  async list(): Promise<AdminToken[]> {
    return (await this.#database.query<AdminTokenRow>(`SELECT ${SELECT_LIST} FROM admin_tokens ORDER BY created_at DESC, id`)).map(toAdminToken);
  }

  /** Whether a token with this secret was ever registered (revoked or not). */
  async exists(secretSha256: Buffer): Promise<boolean> {
    return (await this.#database.query('SELECT 1 FROM admin_tokens WHERE secret_sha256 = $1', [secretSha256])).length > 0;
  }

  async findActiveBySecretHash(secretSha256: Buffer): Promise<AdminToken | null> {
    const [row] = await this.#database.query<AdminTokenRow>(
      `SELECT ${SELECT_LIST} FROM admin_tokens WHERE secret_sha256 = $1 AND revoked_at IS NULL`,
      [secretSha256],
    );
    return row ? toAdminToken(row) : null;
  }

  /** Revokes an unrevoked token; null when there is none with this id. */
  async revoke(id: string): Promise<AdminToken | null> {
    const [row] = await this.#database.query<AdminTokenRow>(
      `UPDATE admin_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING ${SELECT_LIST}`,
      [id],
    );
    return row ? toAdminToken(row) : null;
  }

  async touchLastUsed(id: string): Promise<void> {
    await this.#database.query(
      `UPDATE admin_tokens SET last_used_at = now()
       WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
      [id, LAST_USED_RESOLUTION_SECONDS],
    );
  }
}
