import type { Queryable } from './database.js';

export interface ServerNode {
  id: string;
  /** Where the other nodes reach it; null when it cannot be reached. */
  url: string | null;
  version: string;
  /** Fingerprints of its master keys, current first, and of its URL signing key. */
  keys: NodeKeyFingerprints;
  startedAt: Date;
  heartbeatAt: Date;
  draining: boolean;
}

export interface NodeKeyFingerprints {
  masterKeys: string[];
  urlKey: string;
}

interface NodeRow {
  id: string;
  url: string | null;
  version: string;
  master_key_fingerprints: string[];
  url_key_fingerprint: string;
  started_at: Date;
  heartbeat_at: Date;
  draining: boolean;
}

const COLUMNS = 'id, url, version, master_key_fingerprints, url_key_fingerprint, started_at, heartbeat_at, draining';

function toNode(row: NodeRow): ServerNode {
  return {
    id: row.id,
    url: row.url,
    version: row.version,
    keys: { masterKeys: row.master_key_fingerprints, urlKey: row.url_key_fingerprint },
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
    draining: row.draining,
  };
}

/**
 * The server nodes sharing the database, each beating while it runs. Times are the database's, so the nodes' clocks
 * need not agree.
 */
export class NodeRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  /** Lists the node (again, after a restart or after it was removed while it could not beat), not draining. */
  async register(node: { id: string; url: string | null; version: string; keys: NodeKeyFingerprints }): Promise<void> {
    await this.#database.query(
      `INSERT INTO nodes (id, url, version, master_key_fingerprints, url_key_fingerprint) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET url = $2, version = $3, master_key_fingerprints = $4, url_key_fingerprint = $5,
         started_at = now(), heartbeat_at = now(), draining = false`,
      [node.id, node.url, node.version, node.keys.masterKeys, node.keys.urlKey],
    );
  }

  /** Records where the other nodes reach the node (known once it listens). */
  async setUrl(id: string, url: string | null): Promise<void> {
    await this.#database.query('UPDATE nodes SET url = $2 WHERE id = $1', [id, url]);
  }

  /** Records a beat of the node; false when it is no longer listed (another node found it gone). */
  async beat(id: string, draining: boolean): Promise<boolean> {
    const rows = await this.#database.query('UPDATE nodes SET heartbeat_at = now(), draining = $2 WHERE id = $1 RETURNING id', [id, draining]);
    return rows.length === 1;
  }

  /** Removes the nodes that have not beaten for `lapseSeconds`; returns their ids. */
  async removeLapsed(lapseSeconds: number): Promise<string[]> {
    const rows = await this.#database.query<{ id: string }>(
      `DELETE FROM nodes WHERE heartbeat_at < now() - make_interval(secs => $1) RETURNING id`,
      [lapseSeconds],
    );
    return rows.map((row) => row.id);
  }

  /** The node leaving: it holds nothing any more. */
  async remove(id: string): Promise<void> {
    await this.#database.query('DELETE FROM nodes WHERE id = $1', [id]);
  }

  async list(): Promise<ServerNode[]> {
    const rows = await this.#database.query<NodeRow>(`SELECT ${COLUMNS} FROM nodes ORDER BY started_at, id`);
    return rows.map(toNode);
  }

  async get(id: string): Promise<ServerNode | null> {
    const [row] = await this.#database.query<NodeRow>(`SELECT ${COLUMNS} FROM nodes WHERE id = $1`, [id]);
    return row ? toNode(row) : null;
  }
}
