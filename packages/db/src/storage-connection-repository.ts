import type { StorageProvider, SyncMode } from '@airlock/contracts';
import type { Database } from './database.js';
import { stringMapParameter } from './sql-text.js';

export type { StorageProvider, SyncMode };

/** An organization's own bucket or container, as stored: parameters in the clear, secrets sealed. */
export interface StorageConnection {
  id: string;
  orgId: string;
  /** A display name. */
  name: string;
  /** Where attachments mount it unless they name another: /data/<mountName>. */
  mountName: string;
  provider: StorageProvider;
  /** s3 and gcs; null for azure. */
  bucket: string | null;
  /** azure; null otherwise. */
  container: string | null;
  endpoint: string | null;
  /** s3 only. */
  region: string | null;
  /** s3 only. */
  pathStyle: boolean;
  /** azure only, with an account key. */
  account: string | null;
  /** s3 and gcs: reached without credentials; then sealedCredentials is null. */
  anonymous: boolean;
  /** The secret fields as one JSON object, sealed by the server with the connection's id as context. */
  sealedCredentials: string | null;
  /** Per secret field, what answers show of it. */
  credentialHints: Record<string, string>;
  /** Level 1 of path scoping: the directory inside the bucket the mount shows ("" for the whole bucket). */
  prefix: string;
  readOnly: boolean;
  syncMode: SyncMode;
  createdAt: Date;
  updatedAt: Date;
}

/** What a connection holds besides its identity: set whole on creation and on every change. */
export type StorageConnectionFields = Omit<StorageConnection, 'id' | 'orgId' | 'createdAt' | 'updatedAt'>;

interface StorageConnectionRow {
  id: string;
  org_id: string;
  name: string;
  mount_name: string;
  provider: StorageProvider;
  bucket: string | null;
  container: string | null;
  endpoint: string | null;
  region: string | null;
  path_style: boolean;
  account: string | null;
  anonymous: boolean;
  sealed_credentials: string | null;
  credential_hints: Record<string, string>;
  prefix: string;
  read_only: boolean;
  sync_mode: SyncMode;
  created_at: Date;
  updated_at: Date;
}

/** Column and parameter cast of each field, in the order of the INSERT's and UPDATE's parameters. */
const FIELD_COLUMNS: ReadonlyArray<[keyof StorageConnectionFields, string, string]> = [
  ['name', 'name', 'text'],
  ['mountName', 'mount_name', 'text'],
  ['provider', 'provider', 'text'],
  ['bucket', 'bucket', 'text'],
  ['container', 'container', 'text'],
  ['endpoint', 'endpoint', 'text'],
  ['region', 'region', 'text'],
  ['pathStyle', 'path_style', 'boolean'],
  ['account', 'account', 'text'],
  ['anonymous', 'anonymous', 'boolean'],
  ['sealedCredentials', 'sealed_credentials', 'text'],
  ['credentialHints', 'credential_hints', 'jsonb'],
  ['prefix', 'prefix', 'text'],
  ['readOnly', 'read_only', 'boolean'],
  ['syncMode', 'sync_mode', 'text'],
];
const SELECT_LIST = ['id', 'org_id', ...FIELD_COLUMNS.map(([, column]) => column), 'created_at', 'updated_at'].join(', ');

function toStorageConnection(row: StorageConnectionRow): StorageConnection {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    mountName: row.mount_name,
    provider: row.provider,
    bucket: row.bucket,
    container: row.container,
    endpoint: row.endpoint,
    region: row.region,
    pathStyle: row.path_style,
    account: row.account,
    anonymous: row.anonymous,
    sealedCredentials: row.sealed_credentials,
    credentialHints: row.credential_hints,
    prefix: row.prefix,
    readOnly: row.read_only,
    syncMode: row.sync_mode,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function fieldParameters(fields: StorageConnectionFields): unknown[] {
  return FIELD_COLUMNS.map(([field]) => (field === 'credentialHints' ? stringMapParameter(fields.credentialHints) : fields[field]));
}

/**
 * A query for the names of the live sandbox configs attaching a connection or volume (`$1` org id, `$2` its id). Run
 * after locking the connection or volume FOR UPDATE, it sees every attachment made before: attaching locks it FOR SHARE.
 */
export const attachingSandboxesSql = (targetColumn: 'connection_id' | 'volume_id', extraCondition = ''): string =>
  `SELECT coalesce(array_agg(DISTINCT c.name ORDER BY c.name), '{}') AS names
   FROM storage_attachments a JOIN sandbox_configs c ON c.id = a.sandbox_config_id AND c.deleted_at IS NULL
   WHERE a.org_id = $1 AND a.${targetColumn} = $2 ${extraCondition}`;

export class StorageConnectionRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** `id` is made by the caller (generateId('storageConnection')), which seals the credentials with it. */
  async create(connection: { id: string; orgId: string } & StorageConnectionFields): Promise<StorageConnection> {
    const parameters = fieldParameters(connection);
    const [row] = await this.#database.query<StorageConnectionRow>(
      `INSERT INTO storage_connections (id, org_id, ${FIELD_COLUMNS.map(([, column]) => column).join(', ')})
       VALUES ($1, $2, ${FIELD_COLUMNS.map(([, , cast], index) => `$${index + 3}::${cast}`).join(', ')})
       RETURNING ${SELECT_LIST}`,
      [connection.id, connection.orgId, ...parameters],
    );
    return toStorageConnection(row as StorageConnectionRow);
  }

  async get(orgId: string, id: string): Promise<StorageConnection | null> {
    const [row] = await this.#database.query<StorageConnectionRow>(
      `SELECT ${SELECT_LIST} FROM storage_connections WHERE org_id = $1 AND id = $2`,
      [orgId, id],
    );
    return row === undefined ? null : toStorageConnection(row);
  }

  /** The organization's connections, by name. */
  async list(orgId: string): Promise<StorageConnection[]> {
    const rows = await this.#database.query<StorageConnectionRow>(
      `SELECT ${SELECT_LIST} FROM storage_connections WHERE org_id = $1 ORDER BY name, id`,
      [orgId],
    );
    return rows.map(toStorageConnection);
  }

  /**
   * Replaces every field and bumps updatedAt. A connection made read-only while sandbox configs attach it read-write
   * is left unchanged, and `{ writableIn }` names those configs. Null when the organization has no such connection.
   */
  async update(
    orgId: string,
    id: string,
    fields: StorageConnectionFields,
  ): Promise<{ connection: StorageConnection } | { writableIn: string[] } | null> {
    return this.#database.transaction(async (tx) => {
      const [locked] = await tx.query(`SELECT id FROM storage_connections WHERE org_id = $1 AND id = $2 FOR UPDATE`, [orgId, id]);
      if (locked === undefined) return null;
      if (fields.readOnly) {
        const [attaching] = await tx.query<{ names: string[] }>(attachingSandboxesSql('connection_id', 'AND NOT a.read_only'), [orgId, id]);
        if (attaching && attaching.names.length > 0) return { writableIn: attaching.names };
      }
      const [row] = await tx.query<StorageConnectionRow>(
        `UPDATE storage_connections SET
           ${FIELD_COLUMNS.map(([, column, cast], index) => `${column} = $${index + 3}::${cast}`).join(', ')},
           updated_at = now()
         WHERE org_id = $1 AND id = $2
         RETURNING ${SELECT_LIST}`,
        [orgId, id, ...fieldParameters(fields)],
      );
      return { connection: toStorageConnection(row as StorageConnectionRow) };
    });
  }

  /**
   * Deletes the connection, its sealed credentials with it, unless a sandbox config attaches it (then
   * `{ attachedTo }` names them). Null when the organization has no such connection.
   */
  async delete(orgId: string, id: string): Promise<{ deleted: true } | { attachedTo: string[] } | null> {
    return this.#database.transaction(async (tx) => {
      const [locked] = await tx.query(`SELECT id FROM storage_connections WHERE org_id = $1 AND id = $2 FOR UPDATE`, [orgId, id]);
      if (locked === undefined) return null;
      const [attaching] = await tx.query<{ names: string[] }>(attachingSandboxesSql('connection_id'), [orgId, id]);
      if (attaching && attaching.names.length > 0) return { attachedTo: attaching.names };
      // Only attachments of deleted sandbox configs are left.
      await tx.query(`DELETE FROM storage_attachments WHERE org_id = $1 AND connection_id = $2`, [orgId, id]);
      await tx.query(`DELETE FROM storage_connections WHERE org_id = $1 AND id = $2`, [orgId, id]);
      return { deleted: true };
    });
  }
}
