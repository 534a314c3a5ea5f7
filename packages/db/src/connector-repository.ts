import type { ConnectorType } from '@airlock/contracts';
import type { Database } from './database.js';

export type ConnectorStatus = 'untested' | 'ok' | 'failed';

/** A connector as stored: its secrets sealed by the server. */
export interface Connector {
  id: string;
  orgId: string;
  name: string;
  type: ConnectorType;
  /** The settings that are not secrets. */
  settings: Record<string, unknown>;
  sealedSecrets: string;
  secretHints: Record<string, string>;
  status: ConnectorStatus;
  statusMessage: string | null;
  testedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** The names of the live sandbox configs that attach it. */
  usedBy: string[];
}

export interface ConnectorFields {
  settings: Record<string, unknown>;
  sealedSecrets: string;
  secretHints: Record<string, string>;
}

/** Why an attachment was not made. */
export type ConnectorAttachRefusal = { refused: 'sandbox_missing' } | { refused: 'connector_missing' };

interface ConnectorRow {
  id: string;
  org_id: string;
  name: string;
  type: ConnectorType;
  settings: Record<string, unknown>;
  sealed_secrets: string;
  secret_hints: Record<string, string>;
  status: ConnectorStatus;
  status_message: string | null;
  tested_at: Date | null;
  created_at: Date;
  updated_at: Date;
  used_by: string[];
}

/** Every column of `connectors k`, and the names of the live sandbox configs attaching each. */
const SELECT = `
  SELECT k.id, k.org_id, k.name, k.type, k.settings, k.sealed_secrets, k.secret_hints, k.status, k.status_message,
    k.tested_at, k.created_at, k.updated_at,
    (SELECT coalesce(array_agg(c.name ORDER BY c.name), '{}') FROM sandbox_connectors a
       JOIN sandbox_configs c ON c.id = a.sandbox_config_id AND c.deleted_at IS NULL
     WHERE a.connector_id = k.id) AS used_by
  FROM connectors k`;

function toConnector(row: ConnectorRow): Connector {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    type: row.type,
    settings: row.settings,
    sealedSecrets: row.sealed_secrets,
    secretHints: row.secret_hints,
    status: row.status,
    statusMessage: row.status_message,
    testedAt: row.tested_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    usedBy: row.used_by,
  };
}

/** An organization's connectors and their attachments to sandbox configs. */
export class ConnectorRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Throws UniqueViolationError (constraint `connectors_org_id_name_key`) when the organization has the name. */
  async create(connector: { id: string; orgId: string; name: string; type: ConnectorType } & ConnectorFields): Promise<Connector> {
    await this.#database.query(
      `INSERT INTO connectors (id, org_id, name, type, settings, sealed_secrets, secret_hints)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb)`,
      [
        connector.id,
        connector.orgId,
        connector.name,
        connector.type,
        JSON.stringify(connector.settings),
        connector.sealedSecrets,
        JSON.stringify(connector.secretHints),
      ],
    );
    return (await this.get(connector.orgId, connector.name)) as Connector;
  }

  async list(orgId: string): Promise<Connector[]> {
    return (await this.#database.query<ConnectorRow>(`${SELECT} WHERE k.org_id = $1 ORDER BY k.name`, [orgId])).map(toConnector);
  }

  async get(orgId: string, name: string): Promise<Connector | null> {
    const [row] = await this.#database.query<ConnectorRow>(`${SELECT} WHERE k.org_id = $1 AND k.name = $2`, [orgId, name]);
    return row ? toConnector(row) : null;
  }

  /** Replaces the settings and secrets; the connector is untested again. Null when there is no such connector. */
  async update(orgId: string, id: string, fields: ConnectorFields): Promise<Connector | null> {
    const [row] = await this.#database.query<{ name: string }>(
      `UPDATE connectors SET settings = $3::jsonb, sealed_secrets = $4, secret_hints = $5::jsonb, status = 'untested',
         status_message = NULL, tested_at = NULL, updated_at = now()
       WHERE org_id = $1 AND id = $2 RETURNING name`,
      [orgId, id, JSON.stringify(fields.settings), fields.sealedSecrets, JSON.stringify(fields.secretHints)],
    );
    return row ? this.get(orgId, row.name) : null;
  }

  /**
   * Records a test's result, unless the connector changed since `testedVersion` (its updated_at when the test
   * started, as read: to the millisecond, where the database keeps microseconds): a result is about the settings it
   * tested.
   */
  async recordTest(orgId: string, id: string, testedVersion: Date, result: { status: 'ok' | 'failed'; message: string; testedAt: Date }): Promise<void> {
    await this.#database.query(
      `UPDATE connectors SET status = $4, status_message = $5, tested_at = $6
       WHERE org_id = $1 AND id = $2 AND date_trunc('milliseconds', updated_at) = $3`,
      [orgId, id, testedVersion, result.status, result.message, result.testedAt],
    );
  }

  /** Deletes a connector no live sandbox config attaches; otherwise names those that do. Null when there is none. */
  async delete(orgId: string, id: string): Promise<{ deleted: true } | { attachedTo: string[] } | null> {
    return this.#database.transaction(async (tx) => {
      const [locked] = await tx.query(`SELECT id FROM connectors WHERE org_id = $1 AND id = $2 FOR UPDATE`, [orgId, id]);
      if (locked === undefined) return null;
      const [attaching] = await tx.query<{ names: string[] }>(
        `SELECT coalesce(array_agg(c.name ORDER BY c.name), '{}') AS names FROM sandbox_connectors a
           JOIN sandbox_configs c ON c.id = a.sandbox_config_id AND c.deleted_at IS NULL
         WHERE a.org_id = $1 AND a.connector_id = $2`,
        [orgId, id],
      );
      if (attaching && attaching.names.length > 0) return { attachedTo: attaching.names };
      // Only attachments of deleted sandbox configs are left.
      await tx.query(`DELETE FROM sandbox_connectors WHERE org_id = $1 AND connector_id = $2`, [orgId, id]);
      await tx.query(`DELETE FROM connectors WHERE org_id = $1 AND id = $2`, [orgId, id]);
      return { deleted: true };
    });
  }

  /**
   * Attaches a connector to a sandbox config (nothing changes when it is attached already). Both are locked FOR
   * SHARE, so a delete of either waits for this and then sees the attachment.
   */
  async attach(orgId: string, sandboxConfigId: string, connectorId: string): Promise<{ attached: true } | ConnectorAttachRefusal> {
    return this.#database.transaction(async (tx) => {
      const [sandbox] = await tx.query(
        `SELECT id FROM sandbox_configs WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL FOR SHARE`,
        [orgId, sandboxConfigId],
      );
      if (sandbox === undefined) return { refused: 'sandbox_missing' } as const;
      const [connector] = await tx.query(`SELECT id FROM connectors WHERE org_id = $1 AND id = $2 FOR SHARE`, [orgId, connectorId]);
      if (connector === undefined) return { refused: 'connector_missing' } as const;
      await tx.query(
        `INSERT INTO sandbox_connectors (org_id, sandbox_config_id, connector_id) VALUES ($1, $2, $3)
         ON CONFLICT (sandbox_config_id, connector_id) DO NOTHING`,
        [orgId, sandboxConfigId, connectorId],
      );
      return { attached: true } as const;
    });
  }

  /** Detaches a connector from a sandbox config; false when it was not attached. */
  async detach(orgId: string, sandboxConfigId: string, connectorId: string): Promise<boolean> {
    const rows = await this.#database.query(
      `DELETE FROM sandbox_connectors WHERE org_id = $1 AND sandbox_config_id = $2 AND connector_id = $3 RETURNING connector_id`,
      [orgId, sandboxConfigId, connectorId],
    );
    return rows.length > 0;
  }

  /** The connectors a sandbox config attaches, by name. */
  async listAttached(orgId: string, sandboxConfigId: string): Promise<Connector[]> {
    const rows = await this.#database.query<ConnectorRow>(
      `${SELECT} JOIN sandbox_connectors s ON s.connector_id = k.id WHERE s.org_id = $1 AND s.sandbox_config_id = $2 ORDER BY k.name`,
      [orgId, sandboxConfigId],
    );
    return rows.map(toConnector);
  }
}
