import type { KeyStorage, WebNarrowing } from '@airlock/contracts';
import type { Queryable } from './database.js';
import { generateId } from './ids.js';
import { ORGANIZATION_COLUMNS, toOrganization, type Organization, type OrganizationRow } from './organization-repository.js';
import {
  SANDBOX_CONFIG_COLUMNS,
  toSandboxConfig,
  type SandboxConfig,
  type SandboxConfigRow,
} from './sandbox-config-repository.js';
import { selectColumns, unprefixRow } from './sql-columns.js';
import { stringListParameter, stringMapParameter } from './sql-text.js';

export interface ApiKey {
  id: string;
  orgId: string;
  sandboxConfigId: string;
  name: string;
  /** The start of the key as shown to users, e.g. `sk-local-abc`. */
  displayPrefix: string;
  /**
   * How the key narrows its sandbox config's network: 'blocked' forces it off, 'allowlist' keeps the names and
   * networks of networkAllow (or of the config's list when that is null); null keeps the config's setting.
   */
  networkOverride: 'blocked' | 'allowlist' | null;
  /** For 'allowlist': the entries the key keeps; null keeps its sandbox config's. */
  networkAllow: string[] | null;
  /**
   * How the key narrows its sandbox config's mounts, per mount name: a prefix inside the mount, read-only, or
   * detached; mounts not named stay as attached. Entries for mounts the config no longer attaches are kept unused.
   */
  storage: KeyStorage;
  /** The names of its sandbox config's connectors the key keeps; null keeps them all. */
  connectors: string[] | null;
  /**
   * How the key narrows its sandbox config's web policy (contracts' WebNarrowing); null keeps the config's. Applied
   * again at each call (effectiveWebPolicy), so a config changed since keeps winning.
   */
  web: WebNarrowing | null;
  envVars: Record<string, string>;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKey {
  orgId: string;
  /** Must belong to the same organization (enforced by a foreign key). */
  sandboxConfigId: string;
  name: string;
  /** SHA-256 of the whole key string, 32 bytes. */
  secretSha256: Buffer;
  displayPrefix: string;
  networkOverride?: 'blocked' | 'allowlist' | null;
  /** Only with networkOverride 'allowlist' (a check constraint). */
  networkAllow?: string[] | null;
  storage?: KeyStorage;
  connectors?: string[] | null;
  web?: WebNarrowing | null;
  envVars?: Record<string, string>;
}

/** An active key with what authorizing a request needs: its organization and its sandbox config. */
export interface ApiKeyAuthorization {
  apiKey: ApiKey;
  organization: Organization;
  sandboxConfig: SandboxConfig;
}

interface ApiKeyRow {
  id: string;
  org_id: string;
  sandbox_config_id: string;
  name: string;
  display_prefix: string;
  network_override: 'blocked' | 'allowlist' | null;
  network_allow: string[] | null;
  storage: KeyStorage;
  connectors: string[] | null;
  web: WebNarrowing | null;
  env_vars: Record<string, string>;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const API_KEY_COLUMNS = [
  'id',
  'org_id',
  'sandbox_config_id',
  'name',
  'display_prefix',
  'network_override',
  'network_allow',
  'storage',
  'connectors',
  'web',
  'env_vars',
  'created_at',
  'last_used_at',
  'revoked_at',
] as const;
const SELECT_LIST = API_KEY_COLUMNS.join(', ');

const AUTHORIZATION_SELECT_LIST = [
  selectColumns(API_KEY_COLUMNS, { tableAlias: 'k', prefix: 'k_' }),
  selectColumns(ORGANIZATION_COLUMNS, { tableAlias: 'o', prefix: 'o_' }),
  selectColumns(SANDBOX_CONFIG_COLUMNS, { tableAlias: 'c', prefix: 'c_' }),
].join(', ');

/** touchLastUsed writes at most once per this many seconds per key, keeping authentication off the write path. */
export const LAST_USED_RESOLUTION_SECONDS = 60;

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    orgId: row.org_id,
    sandboxConfigId: row.sandbox_config_id,
    name: row.name,
    displayPrefix: row.display_prefix,
    networkOverride: row.network_override,
    networkAllow: row.network_allow,
    storage: row.storage,
    connectors: row.connectors,
    web: row.web,
    envVars: row.env_vars,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export class ApiKeyRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  /** Throws UniqueViolationError (constraint `api_keys_secret_sha256_key`) when the secret is registered already. */
  async create(apiKey: NewApiKey): Promise<ApiKey> {
    const [row] = await this.#database.query<ApiKeyRow>(
      `INSERT INTO api_keys (id, org_id, sandbox_config_id, name, display_prefix, secret_sha256, network_override,
         env_vars, network_allow, storage, connectors, web)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11::jsonb, $12::jsonb)
       RETURNING ${SELECT_LIST}`,
      [
        generateId('apiKey'),
        apiKey.orgId,
        apiKey.sandboxConfigId,
        apiKey.name,
        apiKey.displayPrefix,
        apiKey.secretSha256,
        apiKey.networkOverride ?? null,
        stringMapParameter(apiKey.envVars ?? {}),
        apiKey.networkAllow ? stringListParameter(apiKey.networkAllow) : null,
        JSON.stringify(apiKey.storage ?? {}),
        apiKey.connectors ? stringListParameter(apiKey.connectors) : null,
        apiKey.web ? JSON.stringify(apiKey.web) : null,
      ],
    );
    return toApiKey(row as ApiKeyRow);
  }

  /** The unrevoked key whose secret hashes to `secretSha256`, with its organization and sandbox config. */
  async findActiveBySecretHash(secretSha256: Buffer): Promise<ApiKeyAuthorization | null> {
    const [row] = await this.#database.query<Record<string, unknown>>(
      `SELECT ${AUTHORIZATION_SELECT_LIST}
       FROM api_keys k
       JOIN organizations o ON o.id = k.org_id AND o.deleted_at IS NULL
       JOIN sandbox_configs c ON c.org_id = k.org_id AND c.id = k.sandbox_config_id AND c.deleted_at IS NULL
       WHERE k.secret_sha256 = $1 AND k.revoked_at IS NULL`,
      [secretSha256],
    );
    if (row === undefined) return null;
    return {
      apiKey: toApiKey(unprefixRow(row, 'k_') as unknown as ApiKeyRow),
      organization: toOrganization(unprefixRow(row, 'o_') as unknown as OrganizationRow),
      sandboxConfig: toSandboxConfig(unprefixRow(row, 'c_') as unknown as SandboxConfigRow),
    };
  }

  /** All of the organization's keys, revoked ones included, oldest first. */
  async list(orgId: string): Promise<ApiKey[]> {
    const rows = await this.#database.query<ApiKeyRow>(
      `SELECT ${SELECT_LIST} FROM api_keys WHERE org_id = $1 ORDER BY created_at, id`,
      [orgId],
    );
    return rows.map(toApiKey);
  }

  /**
   * Revokes the key; revoking again keeps the first revocation time. Returns whether the organization has a key
   * with that id.
   */
  async revoke(orgId: string, id: string): Promise<boolean> {
    const rows = await this.#database.query(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE org_id = $1 AND id = $2 RETURNING id`,
      [orgId, id],
    );
    return rows.length > 0;
  }

  /**
   * Gives an unrevoked key a new secret; the old one stops working. Returns the key and the old secret's hash (to
   * forget cached authentications of it), or null when the organization has no such unrevoked key.
   */
  async rotate(
    orgId: string,
    id: string,
    secret: { secretSha256: Buffer; displayPrefix: string },
  ): Promise<{ apiKey: ApiKey; previousSecretSha256: Buffer } | null> {
    const [row] = await this.#database.query<ApiKeyRow & { previous_secret_sha256: Buffer }>(
      `UPDATE api_keys k SET secret_sha256 = $3, display_prefix = $4
       FROM (SELECT id, secret_sha256 FROM api_keys WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL FOR UPDATE) previous
       WHERE k.id = previous.id
       RETURNING ${API_KEY_COLUMNS.map((column) => `k.${column}`).join(', ')}, previous.secret_sha256 AS previous_secret_sha256`,
      [orgId, id, secret.secretSha256, secret.displayPrefix],
    );
    if (row === undefined) return null;
    return { apiKey: toApiKey(row), previousSecretSha256: row.previous_secret_sha256 };
  }

  /**
   * Records that the key was used now, unless that was already recorded within the last
   * LAST_USED_RESOLUTION_SECONDS.
   */
  async touchLastUsed(orgId: string, id: string): Promise<void> {
    await this.#database.query(
      `UPDATE api_keys SET last_used_at = now()
       WHERE org_id = $1 AND id = $2
         AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $3))`,
      [orgId, id, LAST_USED_RESOLUTION_SECONDS],
    );
  }
}
