import type { ExecutionRetention, NetworkMode, SandboxStart, ThreadRetention, WebPolicySettings } from '@airlock/contracts';
import type { Queryable } from './database.js';
import { UnknownImageError } from './errors.js';
import { generateId } from './ids.js';
import { stringListParameter, stringMapParameter } from './sql-text.js';

export type { ExecutionRetention, ThreadRetention };

export interface SandboxConfig {
  id: string;
  orgId: string;
  name: string;
  image: string;
  /** CPUs, 0.5 to 4 in steps of 0.01. */
  cpu: number;
  memoryMb: number;
  network: NetworkMode;
  /** The names and networks an `allowlist` config reaches; empty for the other modes. */
  networkAllow: string[];
  envVars: Record<string, string>;
  timeoutMaxSeconds: number;
  executionRetention: ExecutionRetention;
  threadRetention: ThreadRetention;
  /** How its python interpreters start: `fresh`, or `fork` from a template (docs/decisions/0033-fork-tier.md). */
  start: SandboxStart;
  /** The web tools' policy (contracts' WebPolicySettings); null: the tools are off. */
  web: WebPolicySettings | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The fields of a sandbox config that can be set on creation and changed later. */
export interface SandboxConfigSettings {
  name: string;
  /** @default 'default' */
  image: string;
  /** @default 1 */
  cpu: number;
  /** @default cpu * 1024 */
  memoryMb: number;
  /** @default 'blocked' */
  network: NetworkMode;
  /** Non-empty exactly when network is 'allowlist' (a check constraint). @default [] */
  networkAllow: string[];
  /** @default {} */
  envVars: Record<string, string>;
  /** @default 3600 */
  timeoutMaxSeconds: number;
  /** @default '30d' */
  executionRetention: ExecutionRetention;
  /** @default 'forever' */
  threadRetention: ThreadRetention;
  /** @default 'fresh' */
  start: SandboxStart;
  /** @default null: the web tools are off */
  web: WebPolicySettings | null;
}

export type NewSandboxConfig = { orgId: string; name: string } & Partial<Omit<SandboxConfigSettings, 'name'>>;

export interface SandboxConfigRow {
  id: string;
  org_id: string;
  name: string;
  image: string;
  cpu: number;
  memory_mb: number;
  network: NetworkMode;
  network_allow: string[];
  env_vars: Record<string, string>;
  timeout_max_seconds: number;
  execution_retention: ExecutionRetention;
  thread_retention: ThreadRetention;
  start: SandboxStart;
  web: WebPolicySettings | null;
  created_at: Date;
  updated_at: Date;
}

export const SANDBOX_CONFIG_COLUMNS = [
  'id',
  'org_id',
  'name',
  'image',
  'cpu',
  'memory_mb',
  'network',
  'network_allow',
  'env_vars',
  'timeout_max_seconds',
  'execution_retention',
  'thread_retention',
  'start',
  'web',
  'created_at',
  'updated_at',
] as const;
const SELECT_LIST = SANDBOX_CONFIG_COLUMNS.join(', ');

/** Column and parameter cast of each updatable setting. */
const SETTING_COLUMNS: Record<keyof SandboxConfigSettings, { column: string; cast: string }> = {
  name: { column: 'name', cast: 'text' },
  image: { column: 'image', cast: 'text' },
  cpu: { column: 'cpu', cast: 'numeric' },
  memoryMb: { column: 'memory_mb', cast: 'integer' },
  network: { column: 'network', cast: 'text' },
  networkAllow: { column: 'network_allow', cast: 'jsonb' },
  envVars: { column: 'env_vars', cast: 'jsonb' },
  timeoutMaxSeconds: { column: 'timeout_max_seconds', cast: 'integer' },
  executionRetention: { column: 'execution_retention', cast: 'text' },
  threadRetention: { column: 'thread_retention', cast: 'text' },
  start: { column: 'start', cast: 'text' },
  web: { column: 'web', cast: 'jsonb' },
};

export function toSandboxConfig(row: SandboxConfigRow): SandboxConfig {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    image: row.image,
    cpu: row.cpu,
    memoryMb: row.memory_mb,
    network: row.network,
    networkAllow: row.network_allow,
    envVars: row.env_vars,
    timeoutMaxSeconds: row.timeout_max_seconds,
    executionRetention: row.execution_retention,
    threadRetention: row.thread_retention,
    start: row.start,
    web: row.web,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function settingParameter(setting: keyof SandboxConfigSettings, value: unknown): unknown {
  if (setting === 'envVars') return stringMapParameter(value as Record<string, string>);
  if (setting === 'networkAllow') return stringListParameter(value as string[]);
  if (setting === 'web') return value === null ? null : JSON.stringify(value);
  return value;
}

export class SandboxConfigRepository {
  readonly #database: Queryable;

  constructor(database: Queryable) {
    this.#database = database;
  }

  /**
   * Throws UniqueViolationError (constraint `sandbox_configs_org_id_name_key`) when the org has that name already, and
   * UnknownImageError when the image catalog lacks the image (its row is locked FOR SHARE meanwhile, so an image
   * deletion either sees the new config or comes first).
   */
  async create(config: NewSandboxConfig): Promise<SandboxConfig> {
    const cpu = config.cpu ?? 1;
    const [row] = await this.#database.query<SandboxConfigRow>(
      `INSERT INTO sandbox_configs (id, org_id, name, image, cpu, memory_mb, network, env_vars, timeout_max_seconds,
         execution_retention, thread_retention, network_allow, web, start)
       SELECT $1, $2, $3, images.name, $5, $6, $7, $8::jsonb, $9, $10, $11, $12::jsonb, $13::jsonb, $14 FROM images WHERE images.name = $4
       FOR SHARE
       RETURNING ${SELECT_LIST}`,
      [
        generateId('sandboxConfig'),
        config.orgId,
        config.name,
        config.image ?? 'default',
        cpu,
        config.memoryMb ?? Math.round(cpu * 1024),
        config.network ?? 'blocked',
        stringMapParameter(config.envVars ?? {}),
        config.timeoutMaxSeconds ?? 3600,
        config.executionRetention ?? '30d',
        config.threadRetention ?? 'forever',
        stringListParameter(config.networkAllow ?? []),
        config.web ? JSON.stringify(config.web) : null,
        config.start ?? 'fresh',
      ],
    );
    if (row === undefined) throw new UnknownImageError(config.image ?? 'default');
    return toSandboxConfig(row);
  }

  async get(orgId: string, id: string): Promise<SandboxConfig | null> {
    const [row] = await this.#database.query<SandboxConfigRow>(
      `SELECT ${SELECT_LIST} FROM sandbox_configs WHERE org_id = $1 AND id = $2`,
      [orgId, id],
    );
    return row === undefined ? null : toSandboxConfig(row);
  }

  async getByName(orgId: string, name: string): Promise<SandboxConfig | null> {
    const [row] = await this.#database.query<SandboxConfigRow>(
      `SELECT ${SELECT_LIST} FROM sandbox_configs WHERE org_id = $1 AND name = $2 AND deleted_at IS NULL`,
      [orgId, name],
    );
    return row === undefined ? null : toSandboxConfig(row);
  }

  /** The organization's sandbox configs ordered by name. */
  async list(orgId: string): Promise<SandboxConfig[]> {
    const rows = await this.#database.query<SandboxConfigRow>(
      `SELECT ${SELECT_LIST} FROM sandbox_configs WHERE org_id = $1 AND deleted_at IS NULL ORDER BY name, id`,
      [orgId],
    );
    return rows.map(toSandboxConfig);
  }

  /** The images of every organization's sandbox configs that fork their python interpreters (`start: fork`). */
  async forkedImages(): Promise<string[]> {
    const rows = await this.#database.query<{ image: string }>(
      `SELECT DISTINCT image FROM sandbox_configs WHERE start = 'fork' AND deleted_at IS NULL ORDER BY image`,
    );
    return rows.map((row) => row.image);
  }

  /**
   * Deletes the config unless an unrevoked API key uses it (then `{ activeKeys }` names them), with its storage
   * attachments; its name is free again, and its row stays for the keys and executions that refer to it. Null when
   * the org has no such config.
   */
  async delete(orgId: string, id: string): Promise<{ deleted: true } | { activeKeys: string[] } | null> {
    const [row] = await this.#database.query<{ deleted: boolean; active_keys: string[] }>(
      `WITH target AS (
         SELECT id, (SELECT coalesce(array_agg(k.name ORDER BY k.name), '{}') FROM api_keys k
                     WHERE k.org_id = c.org_id AND k.sandbox_config_id = c.id AND k.revoked_at IS NULL) AS active_keys
         FROM sandbox_configs c WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
       ),
       deleted AS (
         UPDATE sandbox_configs SET deleted_at = now()
         WHERE org_id = $1 AND id IN (SELECT id FROM target WHERE cardinality(active_keys) = 0) RETURNING id
       ),
       detached AS (
         DELETE FROM storage_attachments WHERE org_id = $1 AND sandbox_config_id IN (SELECT id FROM deleted)
       )
       SELECT EXISTS (SELECT 1 FROM deleted) AS deleted, active_keys FROM target`,
      [orgId, id],
    );
    if (row === undefined) return null;
    return row.deleted ? { deleted: true } : { activeKeys: row.active_keys };
  }

  /**
   * Changes the given settings and bumps updatedAt. Returns the updated config, or null when the org has no config
   * with that id or a new image is not in the catalog (locked FOR SHARE like on creation). Memory is not derived from cpu here: pass memoryMb when both should change.
   */
  async update(
    orgId: string,
    id: string,
    changes: Partial<SandboxConfigSettings>,
  ): Promise<SandboxConfig | null> {
    const assignments: string[] = [];
    const params: unknown[] = [orgId, id];
    for (const setting of Object.keys(SETTING_COLUMNS) as (keyof SandboxConfigSettings)[]) {
      const value = changes[setting];
      if (value === undefined) continue;
      const { column, cast } = SETTING_COLUMNS[setting];
      params.push(settingParameter(setting, value));
      assignments.push(`${column} = $${params.length}::${cast}`);
    }
    assignments.push('updated_at = now()');
    const imageCondition =
      changes.image === undefined ? '' : `AND EXISTS (SELECT 1 FROM images WHERE name = $${params.push(changes.image)} FOR SHARE)`;
    const [row] = await this.#database.query<SandboxConfigRow>(
      `UPDATE sandbox_configs SET ${assignments.join(', ')} WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL ${imageCondition}
       RETURNING ${SELECT_LIST}`,
      params,
    );
    return row === undefined ? null : toSandboxConfig(row);
  }
}
