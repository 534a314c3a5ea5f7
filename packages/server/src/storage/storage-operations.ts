import {
  AttachmentListResponse,
  AttachmentPath,
  AttachmentSummary,
  CreateAttachmentRequest,
  CreateStorageConnectionRequest,
  CreateVolumeRequest,
  ErrorCode,
  OrganizationQuery,
  SandboxPath,
  StorageConnectionListResponse,
  StorageConnectionPath,
  StorageConnectionSettingsRequest,
  StorageConnectionSummary,
  StorageConnectionTestResponse,
  VolumeListResponse,
  VolumePath,
  VolumeSettingsRequest,
  VolumeSummary,
} from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { StorageService } from './storage-service.js';

const BODY_ERRORS = [ErrorCode.payloadTooLarge];
const DETACH_FIRST = 'Refused (409, naming the sandbox configs) while a sandbox config attaches it; detach it there first.';

/** Storage administration: connections, volumes and attachments, authenticated by the admin token. */
export function storageOperations(storage: StorageService, declare: DeclareAdminOperation): Operation[] {
  return [...connectionOperations(declare, storage), ...volumeOperations(declare, storage), ...attachmentOperations(declare, storage)];
}

/** An organization's storage connections (its own buckets): list, create, read, change, test, delete. */
function connectionOperations(declare: DeclareAdminOperation, storage: StorageService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/storage-connections',
      operationId: 'adminListStorageConnections',
      audit: { action: 'storage_connection.list', target: 'storage_connection' },
      summary: "List an organization's storage connections",
      query: OrganizationQuery,
      response: StorageConnectionListResponse,
      codes: [],
      handle: async (context, { query }) => context.json({ connections: await storage.listConnections(query.organization) }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/storage-connections',
      operationId: 'adminCreateStorageConnection',
      audit: { action: 'storage_connection.create', target: 'storage_connection' },
      summary: 'Connect a bucket or container of your own (S3-compatible, Google Cloud Storage, Azure Blob)',
      description:
        'The secret fields are sealed with the master key and never returned: answers show `credentials`, a hint of ' +
        'each. Nothing is mounted until a sandbox config attaches the connection.',
      query: OrganizationQuery,
      body: CreateStorageConnectionRequest,
      status: 201,
      response: StorageConnectionSummary,
      codes: BODY_ERRORS,
      handle: async (context, { query, body, audit }) => {
        const created = await storage.createConnection(body, query.organization);
        audit.describe({ targetId: created.id, after: created });
        return context.json(created, 201);
      },
    }),
    declare({
      method: 'get',
      path: '/admin/v1/storage-connections/{id}',
      operationId: 'adminGetStorageConnection',
      audit: { action: 'storage_connection.read', target: 'storage_connection' },
      summary: 'Read a storage connection',
      query: OrganizationQuery,
      params: StorageConnectionPath,
      response: StorageConnectionSummary,
      codes: [],
      handle: async (context, { query, params }) => context.json(await storage.getConnection(params.id, query.organization)),
    }),
    declare({
      method: 'patch',
      path: '/admin/v1/storage-connections/{id}',
      operationId: 'adminUpdateStorageConnection',
      audit: { action: 'storage_connection.update', target: 'storage_connection' },
      summary: 'Change a storage connection',
      description:
        'Only the fields sent change; a secret left out is kept. Making it read-only is refused (409, naming them) ' +
        'while sandbox configs attach it read-write.',
      query: OrganizationQuery,
      params: StorageConnectionPath,
      body: StorageConnectionSettingsRequest,
      response: StorageConnectionSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
      handle: async (context, { query, params, body, audit }) => {
        const before = await storage.getConnection(params.id, query.organization);
        const after = await storage.updateConnection(params.id, body, query.organization);
        audit.describe({ before, after });
        return context.json(after);
      },
    }),
    declare({
      method: 'post',
      path: '/admin/v1/storage-connections/{id}/test',
      operationId: 'adminTestStorageConnection',
      audit: { action: 'storage_connection.test', target: 'storage_connection' },
      summary: 'Test whether a storage connection reaches its bucket, and can write there',
      description:
        "Lists the connection's prefix and, unless the connection is read-only, writes a small probe object below it " +
        '(`.airlock-connection-test-<random>`), reads it back and deletes it, from this server with the stored ' +
        'credentials, within 15 s. Failures are answers (`reachable` or `writable` false, with a message naming the ' +
        'step and the provider\'s error, credentials redacted); 503 when the server has no rclone to test with.',
      query: OrganizationQuery,
      params: StorageConnectionPath,
      response: StorageConnectionTestResponse,
      codes: [ErrorCode.unavailable],
      handle: async (context, { query, params }) => context.json(await storage.testConnection(params.id, query.organization)),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/storage-connections/{id}',
      operationId: 'adminDeleteStorageConnection',
      audit: { action: 'storage_connection.delete', target: 'storage_connection' },
      summary: 'Delete a storage connection and its sealed credentials',
      description: DETACH_FIRST,
      query: OrganizationQuery,
      params: StorageConnectionPath,
      status: 204,
      codes: [ErrorCode.conflict],
      handle: async (context, { query, params }) => {
        await storage.deleteConnection(params.id, query.organization);
        return context.body(null, 204);
      },
    }),
  ];
}

/** An organization's managed volumes: list, create, read, change, delete. */
function volumeOperations(declare: DeclareAdminOperation, storage: StorageService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/volumes',
      operationId: 'adminListVolumes',
      audit: { action: 'volume.list', target: 'volume' },
      summary: "List an organization's volumes",
      query: OrganizationQuery,
      response: VolumeListResponse,
      codes: [],
      handle: async (context, { query }) => context.json({ volumes: await storage.listVolumes(query.organization) }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/volumes',
      operationId: 'adminCreateVolume',
      audit: { action: 'volume.create', target: 'volume' },
      summary: 'Create a managed volume',
      description: "Kept in the server's blob store. Its slug is unique in the organization (409 otherwise).",
      query: OrganizationQuery,
      body: CreateVolumeRequest,
      status: 201,
      response: VolumeSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
      handle: async (context, { query, body, audit }) => {
        const created = await storage.createVolume(body, query.organization);
        audit.describe({ targetId: created.slug, after: created });
        return context.json(created, 201);
      },
    }),
    declare({
      method: 'get',
      path: '/admin/v1/volumes/{slug}',
      operationId: 'adminGetVolume',
      audit: { action: 'volume.read', target: 'volume' },
      summary: 'Read a volume, with its usage',
      query: OrganizationQuery,
      params: VolumePath,
      response: VolumeSummary,
      codes: [],
      handle: async (context, { query, params }) => context.json(await storage.getVolume(params.slug, query.organization)),
    }),
    declare({
      method: 'patch',
      path: '/admin/v1/volumes/{slug}',
      operationId: 'adminUpdateVolume',
      audit: { action: 'volume.update', target: 'volume' },
      summary: "Change a volume's name or quota",
      query: OrganizationQuery,
      params: VolumePath,
      body: VolumeSettingsRequest,
      response: VolumeSummary,
      codes: BODY_ERRORS,
      handle: async (context, { query, params, body, audit }) => {
        const before = await storage.getVolume(params.slug, query.organization);
        const after = await storage.updateVolume(params.slug, body, query.organization);
        audit.describe({ before, after });
        return context.json(after);
      },
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/volumes/{slug}',
      operationId: 'adminDeleteVolume',
      audit: { action: 'volume.delete', target: 'volume' },
      summary: 'Delete a volume',
      description: `${DETACH_FIRST} Its slug is free again at once.`,
      query: OrganizationQuery,
      params: VolumePath,
      status: 204,
      codes: [ErrorCode.conflict],
      handle: async (context, { query, params }) => {
        await storage.deleteVolume(params.slug, query.organization);
        return context.body(null, 204);
      },
    }),
  ];
}

/** What a sandbox config mounts at /data: list, attach, detach. */
function attachmentOperations(declare: DeclareAdminOperation, storage: StorageService): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/sandboxes/{name}/attachments',
      operationId: 'adminListAttachments',
      audit: { action: 'sandbox.attachment.list', target: 'sandbox' },
      summary: 'List what a sandbox config mounts at /data',
      query: OrganizationQuery,
      params: SandboxPath,
      response: AttachmentListResponse,
      codes: [],
      handle: async (context, { query, params }) =>
        context.json({ attachments: await storage.listAttachments(params.name, query.organization) }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/sandboxes/{name}/attachments',
      operationId: 'adminAttachStorage',
      audit: { action: 'sandbox.attachment.create', target: 'sandbox' },
      summary: 'Mount a volume or storage connection at /data/<mount_name> in a sandbox config',
      description:
        'One attachment per mount name (409 otherwise). A read-only connection is attached read-only (read_only: false ' +
        'is refused). API keys of the config may narrow the mount further (CreateApiKeyRequest.storage).',
      query: OrganizationQuery,
      params: SandboxPath,
      body: CreateAttachmentRequest,
      status: 201,
      response: AttachmentSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
      handle: async (context, { query, params, body }) => context.json(await storage.attach(params.name, body, query.organization), 201),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/sandboxes/{name}/attachments/{mount}',
      operationId: 'adminDetachStorage',
      audit: { action: 'sandbox.attachment.delete', target: 'sandbox' },
      summary: 'Unmount what a sandbox config mounts at /data/<mount>',
      description: 'Calls that start from now on no longer see it. Keys keep their narrowing of that mount name.',
      query: OrganizationQuery,
      params: AttachmentPath,
      status: 204,
      codes: [],
      handle: async (context, { query, params }) => {
        await storage.detach(params.name, params.mount, query.organization);
        return context.body(null, 204);
      },
    }),
  ];
}
