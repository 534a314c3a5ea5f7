import {
  ErrorCode,
  keyStorageProblem,
  narrowingProblem,
  normalizedKeyStorage,
  webNarrowingProblem,
  type ApiKeySummary,
  type CreateOrganizationRequest,
  type CreatedApiKeyResponse,
  type KeyStorage,
  type NetworkMode,
  type NetworkNarrowing,
  type OrganizationSettingsRequest,
  type OrganizationSummary,
  type SandboxSummary,
  type WebNarrowing,
  type WebPolicySettings,
} from '@airlock/contracts';
import {
  UniqueViolationError,
  UnknownImageError,
  type ApiKey,
  type ApiKeyRepository,
  type ImageRepository,
  type Organization,
  type OrganizationRepository,
  type SandboxConfig,
  type SandboxConfigRepository,
  type SandboxConfigSettings,
  type StorageAttachmentRepository,
} from '@airlock/db';
import { ApiError } from '../shared/api-error.js';
import type { ApiKeyService, CreatedApiKey } from '../auth/api-key-service.js';
import { sha256 } from '../shared/secrets.js';
import type { WebhookSecrets } from '../webhooks/webhook-secrets.js';

export const DEFAULT_ORGANIZATION_SLUG = 'default';
export const DEFAULT_SANDBOX_NAME = 'default';

export interface AdminServiceOptions {
  /** The image catalog, whose images sandbox configs name. */
  images: Pick<ImageRepository, 'get' | 'list'>;
  organizations: OrganizationRepository;
  sandboxConfigs: SandboxConfigRepository;
  apiKeys: ApiKeyRepository;
  /** The storage sandbox configs attach, which keys narrow. */
  attachments: StorageAttachmentRepository;
  /** The names of the connectors a sandbox config attaches, which keys narrow. */
  attachedConnectors: (orgId: string, sandboxConfigId: string) => Promise<string[]>;
  keyService: ApiKeyService;
  webhookSecrets: WebhookSecrets;
  /** Whether this server runs sandboxes with network (AIRLOCK_NETWORK). */
  networkEnabled: boolean;
  /** Told the image of a sandbox config created or changed with `start: fork`, whose template can start before its first call. */
  onForkedImage?: (image: string) => void;
}

export type { ApiKeySummary, SandboxSummary };

/** First-start set-up and instance administration. */
export class AdminService {
  readonly #options: AdminServiceOptions;

  constructor(options: AdminServiceOptions) {
    this.#options = options;
  }

  /**
   * On an empty database, creates the default organization, sandbox config and one API key, and returns the key
   * (the only time it is visible). With `bootstrapKey`, registers exactly that key, also on later starts if absent.
   */
  async bootstrap(bootstrapKey: string | undefined): Promise<CreatedApiKey | null> {
    const { organizations, sandboxConfigs, apiKeys, keyService } = this.#options;
    let organization = await organizations.getBySlug(DEFAULT_ORGANIZATION_SLUG);
    const firstStart = (await organizations.count()) === 0;
    if (!organization && firstStart) {
      organization = await organizations.create({ name: 'Default organization', slug: DEFAULT_ORGANIZATION_SLUG });
    }
    if (!organization) return null;
    let sandbox = await sandboxConfigs.getByName(organization.id, DEFAULT_SANDBOX_NAME);
    if (!sandbox && firstStart) sandbox = await sandboxConfigs.create({ orgId: organization.id, name: DEFAULT_SANDBOX_NAME });
    if (!sandbox) return null;
    if (bootstrapKey !== undefined) {
      if (await apiKeys.findActiveBySecretHash(sha256(bootstrapKey))) return null;
      try {
        return await keyService.create({ orgId: organization.id, sandboxConfigId: sandbox.id, name: 'bootstrap', key: bootstrapKey });
      } catch (error) {
        if (error instanceof UniqueViolationError) return null; // registered and revoked earlier: stays revoked
        throw error;
      }
    }
    if (!firstStart) return null;
    return keyService.create({ orgId: organization.id, sandboxConfigId: sandbox.id, name: 'default' });
  }

  async createKey(request: {
    name: string;
    organization?: string;
    sandbox?: string;
    env_vars?: Record<string, string>;
    network?: NetworkNarrowing['mode'];
    network_allow?: string[];
    storage?: KeyStorage;
    connectors?: string[];
    web?: WebNarrowing | null;
  }): Promise<CreatedApiKeyResponse> {
    const organization = await this.#organization(request.organization);
    const sandbox = await this.#sandbox(organization, request.sandbox ?? DEFAULT_SANDBOX_NAME);
    const narrowing = keyNarrowing(sandbox, request);
    const web = keyWebNarrowing(sandbox, request.web ?? null);
    const storage = await this.#keyStorage(sandbox, request.storage ?? {});
    const connectors = request.connectors === undefined ? null : await this.#keyConnectors(sandbox, request.connectors);
    const created = await this.#options.keyService.create({
      orgId: organization.id,
      sandboxConfigId: sandbox.id,
      name: request.name,
      envVars: request.env_vars ?? {},
      networkOverride: narrowing?.mode ?? null,
      networkAllow: narrowing?.allow ?? null,
      storage,
      connectors,
      web,
    });
    return { ...summarize(created), key: created.key, sandbox: sandbox.name };
  }

  /** The connectors a new key keeps; 400 naming one its sandbox config does not attach (a key never adds one). */
  async #keyConnectors(sandbox: SandboxConfig, names: string[]): Promise<string[]> {
    const attached = await this.#options.attachedConnectors(sandbox.orgId, sandbox.id);
    const foreign = names.find((name) => !attached.includes(name));
    if (foreign !== undefined) {
      throw ApiError.validation(
        `connectors: sandbox config "${sandbox.name}" does not attach connector "${foreign}" (it attaches: ${attached.map((name) => `"${name}"`).join(', ') || 'none'}); a key may only drop connectors`,
      );
    }
    return [...new Set(names)].sort();
  }

  /** How a new key narrows its sandbox config's mounts, as stored; 400 naming the rule when it would widen them. */
  async #keyStorage(sandbox: SandboxConfig, storage: KeyStorage): Promise<KeyStorage> {
    if (Object.keys(storage).length === 0) return {};
    const attached = await this.#options.attachments.list(sandbox.orgId, sandbox.id);
    const problem = keyStorageProblem(
      attached.map((attachment) => ({
        mountName: attachment.mountName,
        readOnly: attachment.readOnly || (attachment.target.kind === 'connection' && attachment.target.readOnly),
      })),
      storage,
      sandbox.name,
    );
    if (problem !== undefined) throw ApiError.validation(problem);
    return normalizedKeyStorage(storage);
  }

  async listOrganizations(): Promise<OrganizationSummary[]> {
    return (await this.#options.organizations.list()).map(summarizeOrganization);
  }

  async createOrganization(request: CreateOrganizationRequest): Promise<OrganizationSummary> {
    try {
      const created = await this.#options.organizations.create({
        name: request.name,
        slug: request.slug,
        maxTimeoutSeconds: request.max_timeout_seconds,
      });
      return summarizeOrganization(created);
    } catch (error) {
      if (error instanceof UniqueViolationError) throw new ApiError('conflict', `organization "${request.slug}" exists`);
      throw error;
    }
  }

  /** Changes an organization's name or plan limits; its keys see the change at once on this server. */
  async updateOrganization(slug: string, settings: OrganizationSettingsRequest): Promise<OrganizationSummary> {
    const organization = await this.#organization(slug);
    const updated = await this.#options.organizations.update(organization.id, {
      name: settings.name,
      maxTimeoutSeconds: settings.max_timeout_seconds,
      auditRetentionDays: settings.audit_retention_days,
    });
    this.#options.keyService.forgetCachedPrincipals();
    if (!updated) throw ApiError.notFound(`no organization "${slug}"`);
    return summarizeOrganization(updated);
  }

  async getOrganization(slug: string): Promise<OrganizationSummary> {
    return summarizeOrganization(await this.#organization(slug));
  }

  async getSandbox(name: string, organizationSlug?: string): Promise<SandboxSummary> {
    return summarizeSandbox(await this.#sandbox(await this.#organization(organizationSlug), name));
  }

  async listSandboxes(organizationSlug?: string): Promise<SandboxSummary[]> {
    const organization = await this.#organization(organizationSlug);
    return (await this.#options.sandboxConfigs.list(organization.id)).map(summarizeSandbox);
  }

  async createSandbox(name: string, settings: SandboxSettingsInput, organizationSlug?: string): Promise<SandboxSummary> {
    const organization = await this.#organization(organizationSlug);
    try {
      const created = await this.#options.sandboxConfigs.create({ orgId: organization.id, name, ...(await this.#settings(settings)) });
      this.#forked(created);
      return summarizeSandbox(created);
    } catch (error) {
      if (error instanceof UniqueViolationError) {
        throw new ApiError('conflict', `sandbox config "${name}" exists in organization "${organization.slug}"`);
      }
      if (error instanceof UnknownImageError) throw await this.#unknownImage(error.image);
      throw error;
    }
  }

  async updateSandbox(name: string, settings: SandboxSettingsInput, organizationSlug?: string): Promise<SandboxSummary> {
    const organization = await this.#organization(organizationSlug);
    const sandbox = await this.#sandbox(organization, name);
    const updated = await this.#options.sandboxConfigs.update(organization.id, sandbox.id, await this.#settings(settings, sandbox));
    this.#options.keyService.forgetCachedPrincipals();
    if (!updated && settings.image !== undefined && (await this.#options.images.get(settings.image)) === null) {
      throw await this.#unknownImage(settings.image);
    }
    if (!updated) throw ApiError.notFound(`no sandbox config "${name}" in organization "${organization.slug}"`);
    this.#forked(updated);
    return summarizeSandbox(updated);
  }

  #forked(config: SandboxConfig): void {
    if (config.start === 'fork') this.#options.onForkedImage?.(config.image);
  }

  /** The sandbox config's webhook signing secret (`whsec_...`), made on first use; `rotate` replaces it. */
  async webhookSecret(name: string, options: { rotate: boolean; organization?: string | undefined }): Promise<{ secret: string }> {
    const organization = await this.#organization(options.organization);
    const sandbox = await this.#sandbox(organization, name);
    const { webhookSecrets } = this.#options;
    const secret = options.rotate ? await webhookSecrets.rotate(sandbox.id) : await webhookSecrets.get(sandbox.id);
    if (secret === null) throw ApiError.notFound(`no sandbox config "${name}" in organization "${organization.slug}"`);
    return { secret };
  }

  /** The settings to store; `stored` is the config an update changes (absent on creation). */
  async #unknownImage(image: string): Promise<ApiError> {
    return ApiError.validation(`image: unknown image "${image}" (known: ${(await this.#options.images.list()).map((known) => known.name).join(', ')})`);
  }

  async #settings(input: SandboxSettingsInput, stored?: SandboxConfig): Promise<Partial<SandboxConfigSettings>> {
    if (input.network !== undefined && input.network !== 'blocked' && !this.#options.networkEnabled) {
      throw ApiError.validation("network: this server runs sandboxes without network (AIRLOCK_NETWORK=off); only 'blocked' is possible");
    }
    if (input.image !== undefined && (await this.#options.images.get(input.image)) === null) throw await this.#unknownImage(input.image);
    const settings: Partial<SandboxConfigSettings> = {
      image: input.image,
      cpu: input.cpu,
      memoryMb: input.memory_mb ?? (input.cpu === undefined ? undefined : Math.round(input.cpu * 1024)),
      network: input.network,
      networkAllow: networkAllowSetting(input, stored),
      envVars: input.env_vars,
      timeoutMaxSeconds: input.timeout_max_seconds,
      executionRetention: input.execution_retention,
      threadRetention: input.thread_retention,
      start: input.start,
      // Keys made under another policy keep their narrowing: effectiveWebPolicy applies it to the config as it is at
      // each call, as effectiveNetwork does for the network.
      web: input.web,
    };
    return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
  }

  /** The organization with this slug (the default one when absent); 404 when there is none. */
  organization(slug?: string): Promise<Organization> {
    return this.#organization(slug);
  }

  /** The organization's sandbox config of this name; 404 when there is none. */
  sandbox(organization: Organization, name: string): Promise<SandboxConfig> {
    return this.#sandbox(organization, name);
  }

  async #sandbox(organization: Organization, name: string): Promise<SandboxConfig> {
    const sandbox = await this.#options.sandboxConfigs.getByName(organization.id, name);
    if (!sandbox) throw ApiError.notFound(`no sandbox config "${name}" in organization "${organization.slug}"`);
    return sandbox;
  }

  async listKeys(organizationSlug?: string): Promise<ApiKeySummary[]> {
    const organization = await this.#organization(organizationSlug);
    return (await this.#options.apiKeys.list(organization.id)).map(summarize);
  }

  async revokeKey(id: string, organizationSlug?: string): Promise<void> {
    const organization = await this.#organization(organizationSlug);
    const revoked = await this.#options.apiKeys.revoke(organization.id, id);
    this.#options.keyService.forgetCachedPrincipals();
    if (!revoked) throw ApiError.notFound(`no API key ${id} in organization "${organization.slug}"`);
  }

  /** A new secret for an unrevoked key, shown once; the old one stops working at once on this server. */
  async rotateKey(id: string, organizationSlug?: string): Promise<CreatedApiKeyResponse> {
    const organization = await this.#organization(organizationSlug);
    const rotated = await this.#options.keyService.rotate(organization.id, id);
    if (!rotated) throw ApiError.notFound(`no unrevoked API key ${id} in organization "${organization.slug}"`);
    const sandbox = await this.#options.sandboxConfigs.get(organization.id, rotated.sandboxConfigId);
    return { ...summarize(rotated), key: rotated.key, sandbox: sandbox?.name ?? '' };
  }

  /** Deletes a sandbox config no unrevoked key uses (409 naming the keys otherwise); its name is free again. */
  async deleteSandbox(name: string, organizationSlug?: string): Promise<void> {
    const organization = await this.#organization(organizationSlug);
    const sandbox = await this.#sandbox(organization, name);
    const outcome = await this.#options.sandboxConfigs.delete(organization.id, sandbox.id);
    if (!outcome) throw ApiError.notFound(`no sandbox config "${name}" in organization "${organization.slug}"`);
    if ('activeKeys' in outcome) {
      throw new ApiError(
        ErrorCode.conflict,
        `sandbox config "${name}" is used by the API keys ${quoted(outcome.activeKeys)}; revoke them or move them first`,
      );
    }
  }

  /**
   * Deletes an organization without unrevoked keys (409 naming them otherwise), with its sandbox configs; the
   * default organization, where keys are made when none is named, stays.
   */
  async deleteOrganization(slug: string): Promise<void> {
    if (slug === DEFAULT_ORGANIZATION_SLUG) {
      throw new ApiError(ErrorCode.conflict, `the "${DEFAULT_ORGANIZATION_SLUG}" organization cannot be deleted`);
    }
    const organization = await this.#organization(slug);
    const outcome = await this.#options.organizations.delete(organization.id);
    if (!outcome) throw ApiError.notFound(`no organization "${slug}"`);
    if ('activeKeys' in outcome) {
      throw new ApiError(ErrorCode.conflict, `organization "${slug}" has the API keys ${quoted(outcome.activeKeys)}; revoke them first`);
    }
  }

  async #organization(slug = DEFAULT_ORGANIZATION_SLUG): Promise<Organization> {
    const organization = await this.#options.organizations.getBySlug(slug);
    if (!organization) throw ApiError.notFound(`no organization "${slug}"`);
    return organization;
  }
}

export interface SandboxSettingsInput {
  image?: string;
  cpu?: number;
  memory_mb?: number;
  network?: NetworkMode;
  network_allow?: string[];
  env_vars?: Record<string, string>;
  timeout_max_seconds?: number;
  execution_retention?: SandboxConfig['executionRetention'];
  thread_retention?: SandboxConfig['threadRetention'];
  start?: SandboxConfig['start'];
  /** null turns the web tools off. */
  web?: WebPolicySettings | null;
}

/**
 * The allowlist a create or update stores (undefined: unchanged): an `allowlist` config needs entries, given now or
 * kept from before; other modes have none, so a change away from `allowlist` clears them.
 */
function networkAllowSetting(input: SandboxSettingsInput, stored: SandboxConfig | undefined): string[] | undefined {
  const mode = input.network ?? stored?.network ?? 'blocked';
  if (mode !== 'allowlist') {
    if (input.network_allow !== undefined && input.network_allow.length > 0) {
      throw ApiError.validation(
        `network_allow: only a sandbox config whose network is 'allowlist' has one (this one's is '${mode}'); ` +
          "send network: 'allowlist' with it, or leave network_allow out",
      );
    }
    return stored?.network === 'allowlist' || input.network_allow !== undefined ? [] : undefined;
  }
  const allow = input.network_allow ?? stored?.networkAllow ?? [];
  if (allow.length === 0) {
    throw ApiError.validation(
      "network_allow: network 'allowlist' needs at least one entry (a name such as api.example.com, a wildcard such as " +
        '*.example.com, or a public IPv4 network such as 198.51.100.0/24)',
    );
  }
  return input.network_allow;
}

/** How a new key narrows its sandbox config's network; 400 naming the rule when it would widen it. */
function keyNarrowing(
  sandbox: SandboxConfig,
  request: { network?: NetworkNarrowing['mode']; network_allow?: string[] },
): NetworkNarrowing | null {
  if (request.network === undefined) {
    if (request.network_allow !== undefined) {
      throw ApiError.validation("network_allow: a key's allowlist comes with network: 'allowlist'; send both");
    }
    return null;
  }
  if (request.network === 'allowlist' && request.network_allow?.length === 0) {
    throw ApiError.validation("network_allow: a key narrowed to 'allowlist' keeps at least one entry; narrow it to 'blocked' for none");
  }
  const narrowing: NetworkNarrowing = { mode: request.network, allow: request.network_allow ?? null };
  const problem = narrowingProblem({ mode: sandbox.network, allow: sandbox.networkAllow }, narrowing, sandbox.name);
  if (problem !== undefined) throw ApiError.validation(problem);
  return narrowing;
}

/** How a new key narrows its sandbox config's web policy, as stored (null: not at all); 400 naming the rule when it would widen it. */
function keyWebNarrowing(sandbox: SandboxConfig, narrowing: WebNarrowing | null): WebNarrowing | null {
  if (narrowing === null || Object.keys(narrowing).length === 0) return null;
  const problem = webNarrowingProblem(sandbox.web, narrowing, sandbox.name);
  if (problem !== undefined) throw ApiError.validation(problem);
  return narrowing;
}

function summarizeOrganization(organization: Organization): OrganizationSummary {
  return {
    id: organization.id,
    name: organization.name,
    slug: organization.slug,
    max_timeout_seconds: organization.maxTimeoutSeconds,
    audit_retention_days: organization.auditRetentionDays,
    created_at: organization.createdAt.toISOString(),
  };
}

function summarizeSandbox(config: SandboxConfig): SandboxSummary {
  return {
    id: config.id,
    name: config.name,
    image: config.image,
    cpu: config.cpu,
    memory_mb: config.memoryMb,
    network: config.network,
    network_allow: config.networkAllow,
    env_vars: config.envVars,
    timeout_max_seconds: config.timeoutMaxSeconds,
    execution_retention: config.executionRetention,
    thread_retention: config.threadRetention,
    start: config.start,
    web: config.web,
  };
}

function summarize(key: ApiKey): ApiKeySummary {
  return {
    id: key.id,
    name: key.name,
    display_prefix: key.displayPrefix,
    sandbox_config_id: key.sandboxConfigId,
    network: key.networkOverride,
    network_allow: key.networkAllow,
    storage: key.storage,
    connectors: key.connectors,
    web: key.web,
    created_at: key.createdAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}

function quoted(names: string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}
