import type { WebSearchProviderKind } from '@airlock/contracts';
import type { Queryable } from './database.js';

/** An organization's search provider as stored: its key sealed by the server. */
export interface WebSearchProvider {
  orgId: string;
  kind: WebSearchProviderKind;
  /** The service's base URL; null: the provider's public API. */
  endpoint: string | null;
  /** Null for a provider without a key. */
  sealedApiKey: string | null;
  /** What answers show of the key (`****abcd`); null exactly when there is no key. */
  apiKeyHint: string | null;
  updatedAt: Date;
}

export type WebSearchProviderFields = Omit<WebSearchProvider, 'updatedAt'>;

interface WebSearchProviderRow {
  org_id: string;
  kind: WebSearchProviderKind;
  endpoint: string | null;
  sealed_api_key: string | null;
  api_key_hint: string | null;
  updated_at: Date;
}

const SELECT_LIST = 'org_id, kind, endpoint, sealed_api_key, api_key_hint, updated_at';

function toWebSearchProvider(row: WebSearchProviderRow): WebSearchProvider {
  return {
    orgId: row.org_id,
    kind: row.kind,
    endpoint: row.endpoint,
    sealedApiKey: row.sealed_api_key,
    apiKeyHint: row.api_key_hint,
    updatedAt: row.updated_at,
  };
}

/** The search provider of each organization: at most one, replaced whole. */
export class WebSearchProviderRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  async get(orgId: string): Promise<WebSearchProvider | null> {
    const [row] = await this.#database.query<WebSearchProviderRow>(`SELECT ${SELECT_LIST} FROM web_search_providers WHERE org_id = $1`, [orgId]);
    return row === undefined ? null : toWebSearchProvider(row);
  }

  /** Sets the organization's provider, replacing the one it had. */
  async put(provider: WebSearchProviderFields): Promise<WebSearchProvider> {
    const [row] = await this.#database.query<WebSearchProviderRow>(
      `INSERT INTO web_search_providers (org_id, kind, endpoint, sealed_api_key, api_key_hint) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (org_id) DO UPDATE SET kind = excluded.kind, endpoint = excluded.endpoint,
         sealed_api_key = excluded.sealed_api_key, api_key_hint = excluded.api_key_hint, updated_at = now()
       RETURNING ${SELECT_LIST}`,
      [provider.orgId, provider.kind, provider.endpoint, provider.sealedApiKey, provider.apiKeyHint],
    );
    return toWebSearchProvider(row as WebSearchProviderRow);
  }

  /** Removes the organization's provider; whether it had one. */
  async delete(orgId: string): Promise<boolean> {
    const rows = await this.#database.query('DELETE FROM web_search_providers WHERE org_id = $1 RETURNING org_id', [orgId]);
    return rows.length > 0;
  }
}
