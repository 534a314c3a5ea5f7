import { LRUCache } from 'lru-cache';
import {
  CONNECTOR_SCHEMAS,
  ErrorCode,
  type ConnectorSummary,
  type ConnectorTestResponse,
  type CreateConnectorRequest,
  type SandboxConnectorFacts,
} from '@airlock/contracts';
import { UniqueViolationError, generateId, type Connector, type ConnectorRepository, type Organization } from '@airlock/db';
import type { Principal } from '../auth/api-key-service.js';
import { ApiError } from '../shared/api-error.js';
import type { SecretBox } from '../shared/secret-box.js';
import type { TenantLookup } from '../storage/storage-service.js';
import { clashingVariables, connectorEndpoints, connectorVariables, type OpenedConnector } from './connector-injection.js';
import { changedSettings, checkSettings, joinSettings, secretHints, splitSettings } from './connector-settings.js';

/** Tries a connector from a sandbox, as its calls would use it (ConnectorProbes). */
export interface ConnectorTester {
  test(connector: OpenedConnector): Promise<{ ok: boolean; message: string }>;
}

export interface ConnectorServiceOptions {
  tenants: TenantLookup;
  connectors: ConnectorRepository;
  /** Seals the secrets at rest (the deployment's master keys). */
  box: SecretBox;
  /** Runs the "test connection" probes; without it a test fails, saying that the server has no network. */
  tester?: ConnectorTester;
  /** How long a sandbox config's connectors are reused for calls (the API key cache's period). @default 0: not kept */
  cacheSeconds?: number;
  /**
   * Whether this server runs sandboxes with network (AIRLOCK_NETWORK): a connector's endpoints are opened through it,
   * so without it none can be attached. @default true
   */
  networkEnabled?: boolean;
}

const CACHED_SANDBOX_CONFIGS = 10_000;

const NO_NETWORK = 'this server runs sandboxes without network (AIRLOCK_NETWORK=off), and a connector reaches its service through it; turn AIRLOCK_NETWORK on';

/** An organization's connectors, their attachments to sandbox configs, and the connectors of a principal's calls. */
export class ConnectorService {
  readonly #options: ConnectorServiceOptions;
  readonly #attached: LRUCache<string, Connector[]> | undefined;
  /** Counts changes, so a read that raced one is not cached. */
  #generation = 0;

  constructor(options: ConnectorServiceOptions) {
    this.#options = options;
    const cacheSeconds = options.cacheSeconds ?? 0;
    this.#attached = cacheSeconds > 0 ? new LRUCache({ max: CACHED_SANDBOX_CONFIGS, ttl: cacheSeconds * 1000 }) : undefined;
  }

  async list(organizationSlug?: string): Promise<ConnectorSummary[]> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    return (await this.#options.connectors.list(organization.id)).map((connector) => this.#summarize(connector));
  }

  async create(request: CreateConnectorRequest, organizationSlug?: string): Promise<ConnectorSummary> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const { name, ...settings } = request;
    const id = generateId('connector');
    try {
      const created = await this.#options.connectors.create({ id, orgId: organization.id, name, type: settings.type, ...this.#fields(id, checkSettings(settings)) });
      return this.#summarize(created);
    } catch (error) {
      if (error instanceof UniqueViolationError) {
        throw new ApiError(ErrorCode.conflict, `organization "${organization.slug}" has a connector named "${name}"; choose another name`);
      }
      throw error;
    }
  }

  async get(name: string, organizationSlug?: string): Promise<ConnectorSummary> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    return this.#summarize(await this.#connector(organization, name));
  }

  /** Changes the settings sent (a secret left out is kept); the connector is untested again. */
  async update(name: string, changes: Record<string, unknown>, organizationSlug?: string): Promise<ConnectorSummary> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const stored = await this.#connector(organization, name);
    const settings = changedSettings(this.#open(stored).settings, changes);
    try {
      const updated = await this.#options.connectors.update(organization.id, stored.id, this.#fields(stored.id, settings));
      if (!updated) throw ApiError.notFound(`no connector "${name}" in organization "${organization.slug}"`);
      return this.#summarize(updated);
    } finally {
      this.forgetCached();
    }
  }

  async delete(name: string, organizationSlug?: string): Promise<void> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const connector = await this.#connector(organization, name);
    try {
      const deleted = await this.#options.connectors.delete(organization.id, connector.id);
      if (deleted === null) throw ApiError.notFound(`no connector "${name}" in organization "${organization.slug}"`);
      if ('attachedTo' in deleted) {
        throw new ApiError(
          ErrorCode.conflict,
          `connector "${name}" is attached to sandbox configs ${deleted.attachedTo.map((sandbox) => `"${sandbox}"`).join(', ')}; detach it there first (DELETE /admin/v1/sandboxes/{name}/connectors/${name})`,
        );
      }
    } finally {
      this.forgetCached();
    }
  }

  /**
   * Tries the connector from a sandbox with the default image, its network blocked but for the connector's endpoints,
   * as a call would use it; records the result (unless the connector changed meanwhile).
   */
  async test(name: string, organizationSlug?: string): Promise<ConnectorTestResponse> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const connector = await this.#connector(organization, name);
    const started = performance.now();
    const tester = this.#options.tester;
    const result = tester ? await tester.test(this.#open(connector)) : { ok: false, message: `no probe could run: ${NO_NETWORK}` };
    const testedAt = new Date();
    const status = result.ok ? ('ok' as const) : ('failed' as const);
    await this.#options.connectors.recordTest(organization.id, connector.id, connector.updatedAt, { status, message: result.message, testedAt });
    return { status, message: result.message, duration_ms: Math.round(performance.now() - started), tested_at: testedAt.toISOString() };
  }

  /** The connectors a sandbox config attaches. */
  async listAttached(sandboxName: string, organizationSlug?: string): Promise<ConnectorSummary[]> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const sandbox = await this.#options.tenants.sandbox(organization, sandboxName);
    return (await this.#options.connectors.listAttached(organization.id, sandbox.id)).map((connector) => this.#summarize(connector));
  }

  /** Attaches a connector to a sandbox config (again: nothing changes); answers the config's connectors. */
  async attach(sandboxName: string, name: string, organizationSlug?: string): Promise<ConnectorSummary[]> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const sandbox = await this.#options.tenants.sandbox(organization, sandboxName);
    const connector = await this.#connector(organization, name);
    if (this.#options.networkEnabled === false) throw ApiError.validation(`connector: ${NO_NETWORK}`);
    const opened = this.#open(connector);
    for (const other of await this.#options.connectors.listAttached(organization.id, sandbox.id)) {
      const clash = other.id === connector.id ? [] : clashingVariables(opened, this.#open(other));
      if (clash.length > 0) {
        throw ApiError.validation(
          `connector: "${name}" and connector "${other.name}" of sandbox config "${sandboxName}" both set ${clash.join(', ')}; a call cannot give both`,
        );
      }
    }
    const taken = connectorVariables(opened).filter((variable) => Object.hasOwn(sandbox.envVars, variable));
    if (taken.length > 0) {
      throw ApiError.validation(
        `connector: "${name}" sets ${taken.join(', ')}, which sandbox config "${sandboxName}" sets in its env_vars; remove ${taken.length > 1 ? 'them' : 'it'} there first`,
      );
    }
    try {
      const attached = await this.#options.connectors.attach(organization.id, sandbox.id, connector.id);
      if ('refused' in attached) {
        throw ApiError.notFound(attached.refused === 'sandbox_missing' ? `no sandbox config "${sandboxName}"` : `no connector "${name}"`);
      }
    } finally {
      this.forgetCached();
    }
    return this.listAttached(sandboxName, organizationSlug);
  }

  async detach(sandboxName: string, name: string, organizationSlug?: string): Promise<void> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const sandbox = await this.#options.tenants.sandbox(organization, sandboxName);
    const connector = await this.#connector(organization, name);
    try {
      if (!(await this.#options.connectors.detach(organization.id, sandbox.id, connector.id))) {
        throw ApiError.notFound(`sandbox config "${sandboxName}" does not attach connector "${name}"`);
      }
    } finally {
      this.forgetCached();
    }
  }

  /** The names of the connectors a sandbox config attaches (a new key may keep only those). */
  async attachedNames(orgId: string, sandboxConfigId: string): Promise<string[]> {
    return (await this.#options.connectors.listAttached(orgId, sandboxConfigId)).map((connector) => connector.name);
  }

  /**
   * The connectors of the principal's calls, their secrets opened: its sandbox config's, less those its API key
   * drops. The attachments are read once per cache period; changes through this server are seen at once.
   */
  async forCall(principal: Principal): Promise<OpenedConnector[]> {
    return (await this.#ofCalls(principal)).map((connector) => this.#open(connector));
  }

  /** The names and types of the principal's connectors, for the descriptions models read; nothing is opened. */
  async factsForCall(principal: Principal): Promise<SandboxConnectorFacts[]> {
    return (await this.#ofCalls(principal)).map(({ name, type }) => ({ name, type }));
  }

  async #ofCalls(principal: Principal): Promise<Connector[]> {
    const { organization, sandboxConfig, apiKey } = principal;
    const key = `${organization.id}/${sandboxConfig.id}`;
    let attached = this.#attached?.get(key);
    if (!attached) {
      const generation = this.#generation;
      attached = await this.#options.connectors.listAttached(organization.id, sandboxConfig.id);
      if (generation === this.#generation) this.#attached?.set(key, attached);
    }
    const kept = apiKey.connectors;
    return attached.filter((connector) => kept === null || kept.includes(connector.name));
  }

  #fields(id: string, settings: ReturnType<typeof checkSettings>) {
    const split = splitSettings(settings);
    return {
      settings: split.settings,
      sealedSecrets: this.#options.box.seal(JSON.stringify(split.secrets), secretsContext(id)),
      secretHints: secretHints(split.secrets),
    };
  }

  #open(connector: Connector): OpenedConnector {
    const secrets = JSON.parse(this.#options.box.open(connector.sealedSecrets, secretsContext(connector.id))) as Record<string, string>;
    const settings = CONNECTOR_SCHEMAS[connector.type].parse(joinSettings({ ...connector.settings, type: connector.type }, secrets));
    return { name: connector.name, settings };
  }

  #summarize(connector: Connector): ConnectorSummary {
    const opened = this.#open(connector);
    const { type: _type, ...settings } = splitSettings(opened.settings).settings;
    return {
      id: connector.id,
      name: connector.name,
      type: connector.type,
      settings,
      secrets: connector.secretHints,
      endpoints: connectorEndpoints(opened),
      variables: connectorVariables(opened),
      status: connector.status,
      status_message: connector.statusMessage,
      tested_at: connector.testedAt?.toISOString() ?? null,
      used_by: connector.usedBy,
      created_at: connector.createdAt.toISOString(),
      updated_at: connector.updatedAt.toISOString(),
    };
  }

  async #connector(organization: Organization, name: string): Promise<Connector> {
    const connector = await this.#options.connectors.get(organization.id, name);
    if (!connector) throw ApiError.notFound(`no connector "${name}" in organization "${organization.slug}"`);
    return connector;
  }

  /** Forgets cached attachments: after any change to connectors, here or on another node. */
  forgetCached(): void {
    this.#generation++;
    this.#attached?.clear();
  }
}

/** The authenticated context of a connector's sealed secrets: a value copied to another row does not open. */
function secretsContext(connectorId: string): string {
  return `connectors.secrets:${connectorId}`;
}
