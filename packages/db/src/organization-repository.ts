import type { Queryable } from './database.js';
import { generateId } from './ids.js';

export interface Organization {
  id: string;
  name: string;
  slug: string;
  maxTimeoutSeconds: number;
  createdAt: Date;
}

export interface NewOrganization {
  name: string;
  slug: string;
  /** @default 3600 */
  maxTimeoutSeconds?: number;
}

export interface OrganizationRow {
  id: string;
  name: string;
  slug: string;
  max_timeout_seconds: number;
  created_at: Date;
}

export const ORGANIZATION_COLUMNS = ['id', 'name', 'slug', 'max_timeout_seconds', 'created_at'] as const;
const SELECT_LIST = ORGANIZATION_COLUMNS.join(', ');

export function toOrganization(row: OrganizationRow): Organization {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    maxTimeoutSeconds: row.max_timeout_seconds,
    createdAt: row.created_at,
  };
}

export class OrganizationRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  /** Throws UniqueViolationError (constraint `organizations_slug_key`) when the slug is taken. */
  async create(organization: NewOrganization): Promise<Organization> {
    const [row] = await this.#database.query<OrganizationRow>(
      `INSERT INTO organizations (id, name, slug, max_timeout_seconds) VALUES ($1, $2, $3, $4)
       RETURNING ${SELECT_LIST}`,
      [generateId('organization'), organization.name, organization.slug, organization.maxTimeoutSeconds ?? 3600],
    );
    return toOrganization(row as OrganizationRow);
  }

  async get(id: string): Promise<Organization | null> {
    const [row] = await this.#database.query<OrganizationRow>(
      `SELECT ${SELECT_LIST} FROM organizations WHERE id = $1`,
      [id],
    );
    return row === undefined ? null : toOrganization(row);
  }

  async getBySlug(slug: string): Promise<Organization | null> {
    const [row] = await this.#database.query<OrganizationRow>(
      `SELECT ${SELECT_LIST} FROM organizations WHERE slug = $1`,
      [slug],
    );
    return row === undefined ? null : toOrganization(row);
  }

  async list(): Promise<Organization[]> {
    const rows = await this.#database.query<OrganizationRow>(`SELECT ${SELECT_LIST} FROM organizations ORDER BY slug`);
    return rows.map(toOrganization);
  }

  /** Changes the given fields; null when there is no organization with that id. */
  async update(id: string, changes: { name?: string; maxTimeoutSeconds?: number }): Promise<Organization | null> {
    const [row] = await this.#database.query<OrganizationRow>(
      `UPDATE organizations SET name = coalesce($2, name), max_timeout_seconds = coalesce($3, max_timeout_seconds)
       WHERE id = $1 RETURNING ${SELECT_LIST}`,
      [id, changes.name ?? null, changes.maxTimeoutSeconds ?? null],
    );
    return row === undefined ? null : toOrganization(row);
  }

  async count(): Promise<number> {
    const [row] = await this.#database.query<{ count: number }>('SELECT count(*) AS count FROM organizations');
    return row?.count ?? 0;
  }
}
