import type { Queryable } from './database.js';
import { generateId } from './ids.js';

export interface Organization {
  id: string;
  name: string;
  slug: string;
  maxTimeoutSeconds: number;
  /** Days its audit entries are kept. */
  auditRetentionDays: number;
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
  audit_retention_days: number;
  created_at: Date;
}

export const ORGANIZATION_COLUMNS = ['id', 'name', 'slug', 'max_timeout_seconds', 'audit_retention_days', 'created_at'] as const;
const SELECT_LIST = ORGANIZATION_COLUMNS.join(', ');

export function toOrganization(row: OrganizationRow): Organization {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    maxTimeoutSeconds: row.max_timeout_seconds,
    auditRetentionDays: row.audit_retention_days,
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
      `SELECT ${SELECT_LIST} FROM organizations WHERE slug = $1 AND deleted_at IS NULL`,
      [slug],
    );
    return row === undefined ? null : toOrganization(row);
  }

  /** Each organization's audit retention in days, deleted ones too (their entries are kept until it ends). */
  async auditRetentionDays(): Promise<Map<string, number>> {
    const rows = await this.#database.query<{ id: string; audit_retention_days: number }>('SELECT id, audit_retention_days FROM organizations');
    return new Map(rows.map((row) => [row.id, row.audit_retention_days]));
  }

  async list(): Promise<Organization[]> {
    const rows = await this.#database.query<OrganizationRow>(
      `SELECT ${SELECT_LIST} FROM organizations WHERE deleted_at IS NULL ORDER BY slug`,
    );
    return rows.map(toOrganization);
  }

  /** Changes the given fields; null when there is no organization with that id. */
  async update(id: string, changes: { name?: string; maxTimeoutSeconds?: number; auditRetentionDays?: number }): Promise<Organization | null> {
    const [row] = await this.#database.query<OrganizationRow>(
      `UPDATE organizations SET name = coalesce($2, name), max_timeout_seconds = coalesce($3, max_timeout_seconds),
         audit_retention_days = coalesce($4, audit_retention_days)
       WHERE id = $1 RETURNING ${SELECT_LIST}`,
      [id, changes.name ?? null, changes.maxTimeoutSeconds ?? null, changes.auditRetentionDays ?? null],
    );
    return row === undefined ? null : toOrganization(row);
  }

  /**
   * Deletes the organization unless it still has an unrevoked API key (then `{ activeKeys }` names them): its sandbox
   * configs, storage attachments, volumes and storage connections (their sealed credentials too) go with it, its slug
   * is free again, and its rows stay for the keys and executions that refer to them. Null when there is no such
   * organization.
   */
  async delete(id: string): Promise<{ deleted: true } | { activeKeys: string[] } | null> {
    const rows = await this.#database.query<{ deleted: boolean; active_keys: string[] }>(
      `WITH target AS (
         SELECT id, (SELECT coalesce(array_agg(k.name ORDER BY k.name), '{}') FROM api_keys k
                     WHERE k.org_id = o.id AND k.revoked_at IS NULL) AS active_keys
         FROM organizations o WHERE id = $1 AND deleted_at IS NULL
       ),
       deleted AS (
         UPDATE organizations SET deleted_at = now()
         WHERE id IN (SELECT id FROM target WHERE cardinality(active_keys) = 0) RETURNING id
       ),
       configs AS (
         UPDATE sandbox_configs SET deleted_at = now()
         WHERE org_id IN (SELECT id FROM deleted) AND deleted_at IS NULL RETURNING id
       ),
       attachments AS (DELETE FROM storage_attachments WHERE org_id IN (SELECT id FROM deleted)),
       volumes AS (
         UPDATE volumes SET deleted_at = now() WHERE org_id IN (SELECT id FROM deleted) AND deleted_at IS NULL
       ),
       connections AS (DELETE FROM storage_connections WHERE org_id IN (SELECT id FROM deleted))
       SELECT EXISTS (SELECT 1 FROM deleted) AS deleted, active_keys FROM target`,
      [id],
    );
    const [row] = rows;
    if (row === undefined) return null;
    return row.deleted ? { deleted: true } : { activeKeys: row.active_keys };
  }

  async count(): Promise<number> {
    const [row] = await this.#database.query<{ count: number }>('SELECT count(*) AS count FROM organizations');
    return row?.count ?? 0;
  }
}
