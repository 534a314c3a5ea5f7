import type { SyncMode } from '@airlock/contracts';
import type { Database } from './database.js';
import { generateId } from './ids.js';

/** A volume or connection mounted at /data/<mountName> in a sandbox config's sandboxes, with what mounting needs. */
export interface StorageAttachment {
  id: string;
  orgId: string;
  sandboxConfigId: string;
  mountName: string;
  /** The attachment's own setting; a read-only connection is only ever attached read-only. */
  readOnly: boolean;
  createdAt: Date;
  target:
    | {
        kind: 'volume';
        volumeId: string;
        slug: string;
        /** The volume's quota (null: none) and the bytes it held when last measured (null: never measured). */
        quotaBytes: number | null;
        usedBytes: number | null;
      }
    | { kind: 'connection'; connectionId: string; readOnly: boolean; prefix: string; syncMode: SyncMode };
}

/** Why an attachment was not made. */
export type AttachRefusal =
  | { refused: 'sandbox_missing' }
  | { refused: 'target_missing' }
  /** The connection is read-only and the attachment asked to write. */
  | { refused: 'read_only_connection' };

interface AttachmentRow {
  id: string;
  org_id: string;
  sandbox_config_id: string;
  mount_name: string;
  read_only: boolean;
  created_at: Date;
  volume_id: string | null;
  volume_slug: string | null;
  volume_quota_bytes: number | null;
  volume_used_bytes: number | null;
  connection_id: string | null;
  connection_read_only: boolean | null;
  connection_prefix: string | null;
  connection_sync_mode: SyncMode | null;
}

const SELECT_DETAILS = `
  SELECT a.id, a.org_id, a.sandbox_config_id, a.mount_name, a.read_only, a.created_at,
    v.id AS volume_id, v.slug AS volume_slug, v.quota_bytes AS volume_quota_bytes, v.used_bytes AS volume_used_bytes,
    s.id AS connection_id, s.read_only AS connection_read_only, s.prefix AS connection_prefix,
    s.sync_mode AS connection_sync_mode
  FROM storage_attachments a
  LEFT JOIN volumes v ON v.org_id = a.org_id AND v.id = a.volume_id
  LEFT JOIN storage_connections s ON s.org_id = a.org_id AND s.id = a.connection_id`;

function toAttachment(row: AttachmentRow): StorageAttachment {
  return {
    id: row.id,
    orgId: row.org_id,
    sandboxConfigId: row.sandbox_config_id,
    mountName: row.mount_name,
    readOnly: row.read_only,
    createdAt: row.created_at,
    target:
      row.volume_id !== null
        ? {
            kind: 'volume',
            volumeId: row.volume_id,
            slug: row.volume_slug as string,
            quotaBytes: row.volume_quota_bytes,
            usedBytes: row.volume_used_bytes,
          }
        : {
            kind: 'connection',
            connectionId: row.connection_id as string,
            readOnly: row.connection_read_only as boolean,
            prefix: row.connection_prefix as string,
            syncMode: row.connection_sync_mode as SyncMode,
          },
  };
}

export class StorageAttachmentRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /**
   * Attaches a volume or connection to a sandbox config. The config and the target are locked FOR SHARE, so a delete
   * of either waits for this and then sees the attachment (or this sees them gone). Throws UniqueViolationError
   * (constraint `storage_attachments_sandbox_config_id_mount_name_key`) when the config mounts something at that name.
   */
  async create(attachment: {
    orgId: string;
    sandboxConfigId: string;
    mountName: string;
    target: { volumeId: string } | { connectionId: string };
    readOnly: boolean;
  }): Promise<{ attachment: StorageAttachment } | AttachRefusal> {
    const { orgId, sandboxConfigId } = attachment;
    return this.#database.transaction(async (tx) => {
      const [sandbox] = await tx.query(
        `SELECT id FROM sandbox_configs WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL FOR SHARE`,
        [orgId, sandboxConfigId],
      );
      if (sandbox === undefined) return { refused: 'sandbox_missing' } as const;
      const [target] =
        'volumeId' in attachment.target
          ? await tx.query<{ read_only: boolean }>(
              `SELECT false AS read_only FROM volumes WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL FOR SHARE`,
              [orgId, attachment.target.volumeId],
            )
          : await tx.query<{ read_only: boolean }>(
              `SELECT read_only FROM storage_connections WHERE org_id = $1 AND id = $2 FOR SHARE`,
              [orgId, attachment.target.connectionId],
            );
      if (target === undefined) return { refused: 'target_missing' } as const;
      if (target.read_only && !attachment.readOnly) return { refused: 'read_only_connection' } as const;
      const id = generateId('storageAttachment');
      await tx.query(
        `INSERT INTO storage_attachments (id, org_id, sandbox_config_id, mount_name, volume_id, connection_id, read_only)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          id,
          orgId,
          sandboxConfigId,
          attachment.mountName,
          'volumeId' in attachment.target ? attachment.target.volumeId : null,
          'connectionId' in attachment.target ? attachment.target.connectionId : null,
          attachment.readOnly,
        ],
      );
      const [row] = await tx.query<AttachmentRow>(`${SELECT_DETAILS} WHERE a.id = $1`, [id]);
      return { attachment: toAttachment(row as AttachmentRow) };
    });
  }

  /** The sandbox config's attachments by mount name, each with what mounting its volume or connection needs. */
  async list(orgId: string, sandboxConfigId: string): Promise<StorageAttachment[]> {
    const rows = await this.#database.query<AttachmentRow>(
      `${SELECT_DETAILS} WHERE a.org_id = $1 AND a.sandbox_config_id = $2 ORDER BY a.mount_name`,
      [orgId, sandboxConfigId],
    );
    return rows.map(toAttachment);
  }

  /** Detaches what the sandbox config mounts at `mountName`; false when it mounts nothing there. */
  async delete(orgId: string, sandboxConfigId: string, mountName: string): Promise<boolean> {
    const rows = await this.#database.query(
      `DELETE FROM storage_attachments WHERE org_id = $1 AND sandbox_config_id = $2 AND mount_name = $3 RETURNING id`,
      [orgId, sandboxConfigId, mountName],
    );
    return rows.length > 0;
  }
}
