import type { Database } from './database.js';
import { generateId } from './ids.js';
import { attachingSandboxesSql } from './storage-connection-repository.js';

/** A managed volume: storage Airlock keeps for an organization, in its blob store backend. */
export interface Volume {
  id: string;
  orgId: string;
  name: string;
  /** Unique among the organization's volumes; attachments mount it at /data/<slug> unless they name another. */
  slug: string;
  quotaBytes: number | null;
  /** Bytes stored, as last measured; null until measured. */
  usedBytes: number | null;
  /** When `usedBytes` was measured; null until measured. */
  usedMeasuredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface VolumeRow {
  id: string;
  org_id: string;
  name: string;
  slug: string;
  quota_bytes: number | null;
  used_bytes: number | null;
  used_measured_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const SELECT_LIST = 'id, org_id, name, slug, quota_bytes, used_bytes, used_measured_at, created_at, updated_at';

function toVolume(row: VolumeRow): Volume {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    slug: row.slug,
    quotaBytes: row.quota_bytes,
    usedBytes: row.used_bytes,
    usedMeasuredAt: row.used_measured_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class VolumeRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Throws UniqueViolationError (constraint `volumes_org_id_slug_key`) when the organization has that slug already. */
  async create(volume: { orgId: string; name: string; slug: string; quotaBytes?: number | null }): Promise<Volume> {
    const [row] = await this.#database.query<VolumeRow>(
      `INSERT INTO volumes (id, org_id, name, slug, quota_bytes) VALUES ($1, $2, $3, $4, $5) RETURNING ${SELECT_LIST}`,
      [generateId('volume'), volume.orgId, volume.name, volume.slug, volume.quotaBytes ?? null],
    );
    return toVolume(row as VolumeRow);
  }

  async getBySlug(orgId: string, slug: string): Promise<Volume | null> {
    const [row] = await this.#database.query<VolumeRow>(
      `SELECT ${SELECT_LIST} FROM volumes WHERE org_id = $1 AND slug = $2 AND deleted_at IS NULL`,
      [orgId, slug],
    );
    return row === undefined ? null : toVolume(row);
  }

  /** The organization's volumes, by slug. */
  async list(orgId: string): Promise<Volume[]> {
    const rows = await this.#database.query<VolumeRow>(
      `SELECT ${SELECT_LIST} FROM volumes WHERE org_id = $1 AND deleted_at IS NULL ORDER BY slug`,
      [orgId],
    );
    return rows.map(toVolume);
  }

  /** Changes the given fields (quotaBytes null: no quota); null when the organization has no such volume. */
  async update(orgId: string, id: string, changes: { name?: string; quotaBytes?: number | null }): Promise<Volume | null> {
    const [row] = await this.#database.query<VolumeRow>(
      `UPDATE volumes SET name = coalesce($3, name), quota_bytes = CASE WHEN $4 THEN $5::bigint ELSE quota_bytes END,
         updated_at = now()
       WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
       RETURNING ${SELECT_LIST}`,
      [orgId, id, changes.name ?? null, changes.quotaBytes !== undefined, changes.quotaBytes ?? null],
    );
    return row === undefined ? null : toVolume(row);
  }

  /**
   * Records the bytes a volume holds, as measured at `measuredAt` by the node that wrote it last; an older measurement
   * than the one recorded is ignored.
   */
  async recordUsage(orgId: string, id: string, usedBytes: number, measuredAt = new Date()): Promise<void> {
    await this.#database.query(
      `UPDATE volumes SET used_bytes = $3, used_measured_at = $4
       WHERE org_id = $1 AND id = $2 AND (used_measured_at IS NULL OR used_measured_at <= $4)`,
      [orgId, id, usedBytes, measuredAt],
    );
  }

  /**
   * Deletes the volume unless a sandbox config attaches it (then `{ attachedTo }` names them); its slug is free at
   * once, and its row stays, marked deleted, until its files are removed. Null when the organization has no such volume.
   */
  async delete(orgId: string, id: string): Promise<{ deleted: true } | { attachedTo: string[] } | null> {
    return this.#database.transaction(async (tx) => {
      const [locked] = await tx.query(
        `SELECT id FROM volumes WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE`,
        [orgId, id],
      );
      if (locked === undefined) return null;
      const [attaching] = await tx.query<{ names: string[] }>(attachingSandboxesSql('volume_id'), [orgId, id]);
      if (attaching && attaching.names.length > 0) return { attachedTo: attaching.names };
      // Only attachments of deleted sandbox configs are left.
      await tx.query(`DELETE FROM storage_attachments WHERE org_id = $1 AND volume_id = $2`, [orgId, id]);
      await tx.query(`UPDATE volumes SET deleted_at = now() WHERE org_id = $1 AND id = $2`, [orgId, id]);
      return { deleted: true };
    });
  }
}
