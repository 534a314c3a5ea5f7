import { LRUCache } from 'lru-cache';
import {
  DATA_ROOT,
  ErrorCode,
  type AttachmentSummary,
  type CreateAttachmentRequest,
  type CreateStorageConnectionRequest,
  type CreateVolumeRequest,
  type StorageConnectionSettingsRequest,
  type StorageConnectionSummary,
  type StorageConnectionTestResponse,
  type VolumeSettingsRequest,
  type VolumeSummary,
} from '@airlock/contracts';
import {
  UniqueViolationError,
  generateId,
  type Organization,
  type SandboxConfig,
  type StorageAttachment,
  type StorageAttachmentRepository,
  type StorageConnection,
  type StorageConnectionFields,
  type StorageConnectionRepository,
  type Volume,
  type VolumeRepository,
} from '@airlock/db';
import { rcloneRemote, testConnection } from '@airlock/storage';
import type { Principal } from '../auth/api-key-service.js';
import { ApiError } from '../shared/api-error.js';
import type { SecretBox } from '../shared/secret-box.js';
import {
  changedDraft,
  checkSignIn,
  credentialHints,
  credentialsOf,
  draftOf,
  parametersOf,
  type ConnectionCredentials,
  type ConnectionDraft,
  type ConnectionParameters,
} from './connection-parameters.js';
import { effectiveMounts, type EffectiveMount } from './effective-mounts.js';
import { summarizeAttachment, summarizeConnection, summarizeVolume } from './storage-summaries.js';

/** Finds what an admin request names, or throws 404 (the admin service). */
export interface TenantLookup {
  /** The organization with this slug; the default one when absent. */
  organization(slug?: string): Promise<Organization>;
  sandbox(organization: Organization, name: string): Promise<SandboxConfig>;
}

export interface StorageServiceOptions {
  tenants: TenantLookup;
  connections: StorageConnectionRepository;
  volumes: VolumeRepository;
  attachments: StorageAttachmentRepository;
  /** Seals connection credentials at rest (the deployment's master keys). */
  box: SecretBox;
  /** The rclone program that tests connections (the one storage mounts run). */
  rclone: string;
  /** How long a sandbox config's attachments are reused for calls (the API key cache's period). @default 0: not kept */
  cacheSeconds?: number;
}

/** Sandbox configs whose attachments are kept in memory at once. */
const CACHED_SANDBOX_CONFIGS = 10_000;

/** Storage connections, managed volumes and their attachments to sandbox configs; the mounts of a principal's calls. */
export class StorageService {
  readonly #attachments: LRUCache<string, StorageAttachment[]> | undefined;
  /** Counts changes, so a read that raced one is not cached. */
  #generation = 0;
  readonly #options: StorageServiceOptions;

  constructor(options: StorageServiceOptions) {
    this.#options = options;
    const cacheSeconds = options.cacheSeconds ?? 0;
    this.#attachments = cacheSeconds > 0 ? new LRUCache({ max: CACHED_SANDBOX_CONFIGS, ttl: cacheSeconds * 1000 }) : undefined;
  }

  async listConnections(organizationSlug?: string): Promise<StorageConnectionSummary[]> {
    const organization = await this.#organization(organizationSlug);
    return (await this.#options.connections.list(organization.id)).map(summarizeConnection);
  }

  async createConnection(request: CreateStorageConnectionRequest, organizationSlug?: string): Promise<StorageConnectionSummary> {
    const organization = await this.#organization(organizationSlug);
    const draft = draftOf(request);
    checkSignIn(draft);
    const id = generateId('storageConnection');
    return summarizeConnection(await this.#options.connections.create({ id, orgId: organization.id, ...this.#fields(id, draft) }));
  }

  async getConnection(id: string, organizationSlug?: string): Promise<StorageConnectionSummary> {
    const organization = await this.#organization(organizationSlug);
    return summarizeConnection(await this.#connection(organization, id));
  }

  /** Changes the fields sent; secrets left out are kept (see changedDraft). */
  async updateConnection(
    id: string,
    changes: StorageConnectionSettingsRequest,
    organizationSlug?: string,
  ): Promise<StorageConnectionSummary> {
    try {
      const organization = await this.#organization(organizationSlug);
      const stored = await this.#connection(organization, id);
      const draft = changedDraft(this.#draftOfStored(stored), changes);
      checkSignIn(draft);
      const outcome = await this.#options.connections.update(organization.id, id, this.#fields(id, draft));
      if (!outcome) throw ApiError.notFound(`no storage connection ${id} in organization "${organization.slug}"`);
      if ('writableIn' in outcome) {
        throw new ApiError(
          ErrorCode.conflict,
          `read_only: the sandbox configs ${quoted(outcome.writableIn)} attach connection "${stored.name}" read-write; ` +
            'detach it there (or attach it read-only) first',
        );
      }
      return summarizeConnection(outcome.connection);
    } finally {
      this.forgetCached();
    }
  }

  /** Deletes a connection nothing attaches (409 naming the sandbox configs otherwise), with its sealed credentials. */
  async deleteConnection(id: string, organizationSlug?: string): Promise<void> {
    try {
      const organization = await this.#organization(organizationSlug);
      const connection = await this.#connection(organization, id);
      const outcome = await this.#options.connections.delete(organization.id, id);
      if (!outcome) throw ApiError.notFound(`no storage connection ${id} in organization "${organization.slug}"`);
      if ('attachedTo' in outcome) {
        throw new ApiError(
          ErrorCode.conflict,
          `connection "${connection.name}" (${id}) is attached to the sandbox configs ${quoted(outcome.attachedTo)}; ` +
            'detach it from them first (DELETE /admin/v1/sandboxes/{name}/attachments/{mount})',
        );
      }
    } finally {
      this.forgetCached();
    }
  }

  /**
   * Whether the connection's bucket and prefix answer, and take a probe object unless the connection is read-only
   * (packages/storage's testConnection, with the connection's credentials in rclone's environment only).
   */
  async testConnection(id: string, organizationSlug?: string): Promise<StorageConnectionTestResponse> {
    const organization = await this.#organization(organizationSlug);
    const connection = await this.#connection(organization, id);
    const remote = rcloneRemote('bucket', parametersOf(this.#draftOfStored(connection)));
    try {
      const { reachable, writable, message } = await testConnection({ rclone: this.#options.rclone, remote, prefix: connection.prefix, readOnly: connection.readOnly });
      return { reachable, writable, checked_at: new Date().toISOString(), message };
    } catch (error) {
      throw ApiError.unavailable(`${(error as Error).message}; install it with scripts/setup.sh, or name another in AIRLOCK_RCLONE`);
    }
  }

  /** A connection's parameters with its secrets opened, to mount it; null when the organization has no such one. */
  async openConnection(orgId: string, id: string): Promise<ConnectionParameters | null> {
    const connection = await this.#options.connections.get(orgId, id);
    return connection && parametersOf(this.#draftOfStored(connection));
  }

  async listVolumes(organizationSlug?: string): Promise<VolumeSummary[]> {
    const organization = await this.#organization(organizationSlug);
    return (await this.#options.volumes.list(organization.id)).map(summarizeVolume);
  }

  async createVolume(request: CreateVolumeRequest, organizationSlug?: string): Promise<VolumeSummary> {
    const organization = await this.#organization(organizationSlug);
    try {
      const created = await this.#options.volumes.create({
        orgId: organization.id,
        name: request.name,
        slug: request.slug,
        quotaBytes: request.quota_bytes ?? null,
      });
      return summarizeVolume(created);
    } catch (error) {
      if (error instanceof UniqueViolationError) {
        throw new ApiError(ErrorCode.conflict, `volume "${request.slug}" exists in organization "${organization.slug}"`);
      }
      throw error;
    }
  }

  async getVolume(slug: string, organizationSlug?: string): Promise<VolumeSummary> {
    const organization = await this.#organization(organizationSlug);
    return summarizeVolume(await this.#volume(organization, slug));
  }

  async updateVolume(slug: string, changes: VolumeSettingsRequest, organizationSlug?: string): Promise<VolumeSummary> {
    const organization = await this.#organization(organizationSlug);
    const volume = await this.#volume(organization, slug);
    let updated;
    try {
      updated = await this.#options.volumes.update(organization.id, volume.id, { name: changes.name, quotaBytes: changes.quota_bytes });
    } finally {
      // Calls read the quota from the cached attachments.
      this.forgetCached();
    }
    if (!updated) throw ApiError.notFound(`no volume "${slug}" in organization "${organization.slug}"`);
    return summarizeVolume(updated);
  }

  /** Deletes a volume nothing attaches (409 naming the sandbox configs otherwise); its slug is free again. */
  async deleteVolume(slug: string, organizationSlug?: string): Promise<void> {
    try {
      const organization = await this.#organization(organizationSlug);
      const volume = await this.#volume(organization, slug);
      const outcome = await this.#options.volumes.delete(organization.id, volume.id);
      if (!outcome) throw ApiError.notFound(`no volume "${slug}" in organization "${organization.slug}"`);
      if ('attachedTo' in outcome) {
        throw new ApiError(
          ErrorCode.conflict,
          `volume "${slug}" is attached to the sandbox configs ${quoted(outcome.attachedTo)}; ` +
            'detach it from them first (DELETE /admin/v1/sandboxes/{name}/attachments/{mount})',
        );
      }
    } finally {
      this.forgetCached();
    }
  }

  async listAttachments(sandboxName: string, organizationSlug?: string): Promise<AttachmentSummary[]> {
    const organization = await this.#organization(organizationSlug);
    const sandbox = await this.#sandbox(organization, sandboxName);
    return (await this.#options.attachments.list(organization.id, sandbox.id)).map(summarizeAttachment);
  }

  /**
   * Mounts a volume or connection in the sandbox config's sandboxes at /data/<mount name> (by default the volume's
   * slug or the connection's mount_name). A read-only connection is attached read-only unless read_only says
   * otherwise, which is refused.
   */
  async attach(sandboxName: string, request: CreateAttachmentRequest, organizationSlug?: string): Promise<AttachmentSummary> {
    try {
      const organization = await this.#organization(organizationSlug);
      const sandbox = await this.#sandbox(organization, sandboxName);
      if ((request.volume === undefined) === (request.connection === undefined)) {
        throw ApiError.validation('volume: attach either a volume (its slug in volume) or a connection (its id in connection)');
      }
      const target = request.volume !== undefined ? await this.#volume(organization, request.volume) : await this.#connection(organization, request.connection!);
      const connection = 'provider' in target ? target : undefined;
      const readOnly = request.read_only ?? connection?.readOnly ?? false;
      if (connection?.readOnly && !readOnly) {
        throw ApiError.validation(`read_only: connection "${connection.name}" is read-only; attach it with read_only: true`);
      }
      const mountName = request.mount_name ?? ('slug' in target ? target.slug : target.mountName);
      const describeTarget = connection ? `connection "${connection.name}" (${connection.id})` : `volume "${request.volume}"`;
      try {
        const outcome = await this.#options.attachments.create({
          orgId: organization.id,
          sandboxConfigId: sandbox.id,
          mountName,
          target: connection ? { connectionId: connection.id } : { volumeId: target.id },
          readOnly,
        });
        if ('attachment' in outcome) return summarizeAttachment(outcome.attachment);
        if (outcome.refused === 'read_only_connection') {
          throw ApiError.validation(`read_only: ${describeTarget} is read-only; attach it with read_only: true`);
        }
        throw ApiError.notFound(outcome.refused === 'sandbox_missing' ? `no sandbox config "${sandboxName}"` : `${describeTarget} is gone`);
      } catch (error) {
        if (error instanceof UniqueViolationError) {
          throw new ApiError(
            ErrorCode.conflict,
            `sandbox config "${sandboxName}" mounts something at ${DATA_ROOT}/${mountName} already; send another mount_name`,
          );
        }
        throw error;
      }
    } finally {
      this.forgetCached();
    }
  }

  async detach(sandboxName: string, mountName: string, organizationSlug?: string): Promise<void> {
    try {
      const organization = await this.#organization(organizationSlug);
      const sandbox = await this.#sandbox(organization, sandboxName);
      if (!(await this.#options.attachments.delete(organization.id, sandbox.id, mountName))) {
        throw ApiError.notFound(`sandbox config "${sandboxName}" mounts nothing at ${DATA_ROOT}/${mountName}`);
      }
    } finally {
      this.forgetCached();
    }
  }

  /**
   * The mounts of the principal's calls: its sandbox config's attachments as its API key narrows them. The
   * attachments are read once per cache period (every call would otherwise pay a query, storage or not); changes made
   * through this server are seen at once, others' within the period.
   */
  async mountsOf(principal: Principal): Promise<EffectiveMount[]> {
    const { organization, sandboxConfig, apiKey } = principal;
    const key = `${organization.id}/${sandboxConfig.id}`;
    let attachments = this.#attachments?.get(key);
    if (!attachments) {
      const generation = this.#generation;
      attachments = await this.#options.attachments.list(organization.id, sandboxConfig.id);
      // Not kept when a change was made while it was read: it may be the state before the change.
      if (generation === this.#generation) this.#attachments?.set(key, attachments);
    }
    return effectiveMounts(attachments, apiKey.storage);
  }

  /** Forgets cached attachments: after any change to attachments, connections or volumes, here or on another node. */
  forgetCached(): void {
    this.#generation++;
    this.#attachments?.clear();
  }

  /** The stored fields of a draft: the credentials sealed with the connection's id, and their hints. */
  #fields(id: string, draft: ConnectionDraft): StorageConnectionFields {
    const credentials = credentialsOf(draft);
    const anonymous = draft.provider !== 'azure' && draft.anonymous;
    return {
      name: draft.name,
      mountName: draft.mount_name,
      provider: draft.provider,
      bucket: draft.provider === 'azure' ? null : draft.bucket,
      container: draft.provider === 'azure' ? draft.container : null,
      endpoint: draft.endpoint,
      region: draft.provider === 's3' ? draft.region : null,
      pathStyle: draft.provider === 's3' && draft.path_style,
      account: draft.provider === 'azure' ? draft.account : null,
      anonymous,
      sealedCredentials: anonymous ? null : this.#options.box.seal(JSON.stringify(credentials), credentialsContext(id)),
      credentialHints: credentialHints(credentials),
      prefix: draft.prefix,
      readOnly: draft.read_only,
      syncMode: draft.sync_mode,
    };
  }

  /** A stored connection as a draft, its credentials opened. */
  #draftOfStored(connection: StorageConnection): ConnectionDraft {
    const credentials: ConnectionCredentials =
      connection.sealedCredentials === null
        ? {}
        : (JSON.parse(this.#options.box.open(connection.sealedCredentials, credentialsContext(connection.id))) as ConnectionCredentials);
    const settings = {
      name: connection.name,
      mount_name: connection.mountName,
      prefix: connection.prefix,
      read_only: connection.readOnly,
      sync_mode: connection.syncMode,
    };
    switch (connection.provider) {
      case 's3':
        return {
          ...settings,
          provider: 's3',
          bucket: connection.bucket ?? '',
          endpoint: connection.endpoint,
          region: connection.region,
          path_style: connection.pathStyle,
          anonymous: connection.anonymous,
          ...credentials,
        };
      case 'gcs':
        return {
          ...settings,
          provider: 'gcs',
          bucket: connection.bucket ?? '',
          endpoint: connection.endpoint,
          anonymous: connection.anonymous,
          ...credentials,
        };
      case 'azure':
        return { ...settings, provider: 'azure', container: connection.container ?? '', endpoint: connection.endpoint, account: connection.account, ...credentials };
    }
  }

  async #connection(organization: Organization, id: string): Promise<StorageConnection> {
    const connection = await this.#options.connections.get(organization.id, id);
    if (!connection) throw ApiError.notFound(`no storage connection ${id} in organization "${organization.slug}"`);
    return connection;
  }

  async #volume(organization: Organization, slug: string): Promise<Volume> {
    const volume = await this.#options.volumes.getBySlug(organization.id, slug);
    if (!volume) throw ApiError.notFound(`no volume "${slug}" in organization "${organization.slug}"`);
    return volume;
  }

  #sandbox(organization: Organization, name: string): Promise<SandboxConfig> {
    return this.#options.tenants.sandbox(organization, name);
  }

  #organization(slug?: string): Promise<Organization> {
    return this.#options.tenants.organization(slug);
  }
}

/** The authenticated context of a connection's sealed credentials: a value copied to another row does not open. */
function credentialsContext(connectionId: string): string {
  return `storage_connections.credentials:${connectionId}`;
}

function quoted(names: string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}
