import { z } from 'zod';
import { MOUNT_NAME_PATTERN, mountNameProblem, parseRelativePath } from './storage-paths.js';
import { Text } from './text.js';

/**
 * Storage in the admin API: connections to an organization's own buckets (BYOB), managed volumes, their attachments
 * to sandbox configs at `/data/<mount name>`, and what an API key narrows of them. Paths are scoped in levels that
 * only narrow (DESIGN.md 4): the connection's prefix inside the bucket (level 1), the key's prefix inside the mount
 * (level 2), the request's sub_paths (level 3). Names and paths are spelled as storage-paths.ts says.
 */

/** A mount name: the `<name>` of `/data/<name>`, and a volume's slug. */
export const MountName = z
  .string()
  .regex(new RegExp(MOUNT_NAME_PATTERN), { error: (issue) => mountNameProblem(String(issue.input)) });

/** A relative path inside a bucket or mount; "" is its root. */
export const StoragePrefix = z.string().superRefine((prefix, context) => {
  const parsed = parseRelativePath(prefix);
  if (!parsed.ok) context.addIssue({ code: 'custom', message: parsed.problem });
});

// --- Connections (BYOB) -------------------------------------------------------------------------------------------

export const STORAGE_PROVIDERS = ['s3', 'gcs', 'azure'] as const;
export type StorageProvider = (typeof STORAGE_PROVIDERS)[number];

/**
 * `write_back`: writes reach the bucket before the answer, uploaded after the code ends (any POSIX-ish use).
 * `strict`: each file is uploaded when it is closed; files are written sequentially only.
 */
export const SYNC_MODES = ['write_back', 'strict'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

/** The secret fields of each provider (`hmac` holds two): sealed at rest, written never read back. */
export const CONNECTION_SECRET_FIELDS = {
  s3: ['access_key_id', 'secret_access_key'],
  gcs: ['service_account_json', 'hmac'],
  azure: ['key', 'sas_url', 'connection_string'],
} as const satisfies Record<StorageProvider, readonly string[]>;

/** The fields of each provider that are not secret. */
export const CONNECTION_PARAMETER_FIELDS = {
  s3: ['bucket', 'endpoint', 'region', 'path_style', 'anonymous'],
  gcs: ['bucket', 'endpoint', 'anonymous'],
  azure: ['container', 'endpoint', 'account'],
} as const satisfies Record<StorageProvider, readonly string[]>;

const BucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'a bucket name: 3-222 lowercase letters, digits, ".", "_" and "-"');
const ContainerName = z
  .string()
  .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'a container name: 3-63 lowercase letters, digits and single "-"');
const Endpoint = z
  .url({ protocol: /^https?$/, error: 'an http(s) URL' })
  .max(2048)
  .refine((url) => !/^https?:\/\/[^/]*@/i.test(url), 'must not hold credentials; give them in their own fields')
  .describe("the service's URL, for S3-compatible stores, emulators and sovereign clouds; the provider's default when absent");
const Region = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, "_" and "-"');
const AzureAccount = z.string().regex(/^[a-z0-9]{3,24}$/, 'a storage account name: 3-24 lowercase letters and digits');

/** A one-line secret; it is never shown again, and no message repeats it. */
const Secret = z
  .string()
  .min(1, 'must not be empty')
  .max(4096, 'at most 4096 characters')
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'must be one line without control characters');
const ServiceAccountJson = z
  .string()
  .min(1, 'must not be empty')
  .max(65_536, 'at most 65536 characters')
  .describe("the service account's JSON key file, as text");
const Hmac = z
  .strictObject({ access_key_id: Secret, secret: Secret })
  .describe('an HMAC key of the bucket (interoperability access)');

const ConnectionSettings = {
  name: Text.describe('a display name'),
  mount_name: MountName.describe('where attachments mount it by default: /data/<mount_name>'),
  prefix: StoragePrefix.optional().describe(
    'level 1: the directory inside the bucket that the mount shows, relative ("" or absent: the whole bucket)',
  ),
  read_only: z.boolean().optional().describe('no attachment may write through it; default false'),
  sync_mode: z.enum(SYNC_MODES).optional().describe(
    "'write_back' (default): writes are uploaded after the code ends, before the answer; 'strict': each file is uploaded " +
      'when closed, and files are written sequentially only',
  ),
};

const S3Fields = {
  bucket: BucketName,
  endpoint: Endpoint.optional(),
  region: Region.optional(),
  path_style: z.boolean().optional().describe('address the bucket as <endpoint>/<bucket> (most S3-compatible stores); default false'),
  anonymous: z.boolean().optional().describe('a public bucket (or an emulator), reached without credentials; then none are given. Default false'),
  access_key_id: Secret.optional().describe('secret; needed unless anonymous'),
  secret_access_key: Secret.optional().describe('secret; needed unless anonymous'),
};
const GcsFields = {
  bucket: BucketName,
  endpoint: Endpoint.optional().describe("the JSON API's URL (with an HMAC key, the XML API's); Google's when absent"),
  anonymous: S3Fields.anonymous,
  service_account_json: ServiceAccountJson.optional().describe('secret; give this or hmac, unless anonymous'),
  hmac: Hmac.optional().describe('secret; give this or service_account_json, unless anonymous'),
};
const AzureFields = {
  container: ContainerName,
  endpoint: Endpoint.optional().describe("with account and key: the blob service's URL (an emulator's); a SAS URL or connection string carries its own"),
  account: AzureAccount.optional().describe('with key'),
  key: Secret.optional().describe('secret: the account key, with account; or give sas_url or connection_string'),
  sas_url: Secret.optional().describe('secret: a shared access signature URL'),
  connection_string: Secret.optional().describe('secret: a storage connection string'),
};

const PROVIDER_ERROR = "'s3' (any S3-compatible store), 'gcs' or 'azure'";

export const CreateStorageConnectionRequest = z
  .discriminatedUnion(
    'provider',
    [
      z.strictObject({ provider: z.literal('s3'), ...ConnectionSettings, ...S3Fields }),
      z.strictObject({ provider: z.literal('gcs'), ...ConnectionSettings, ...GcsFields }),
      z.strictObject({ provider: z.literal('azure'), ...ConnectionSettings, ...AzureFields }),
    ],
    { error: PROVIDER_ERROR },
  )
  .meta({
    id: 'CreateStorageConnectionRequest',
    description:
      'A bucket or container of your own. Secret fields (keys, service account JSON, SAS URL, connection string) are ' +
      'sealed and never returned; answers show a hint of each.',
  });
export type CreateStorageConnectionRequest = z.infer<typeof CreateStorageConnectionRequest>;

const nullable = <Schema extends z.ZodType>(schema: Schema) => schema.nullable().optional();

/** Every field a connection of some provider has, each optional; the stored connection's provider decides which apply. */
export const StorageConnectionSettingsRequest = z
  .strictObject({
    name: ConnectionSettings.name.optional(),
    mount_name: ConnectionSettings.mount_name.optional(),
    prefix: ConnectionSettings.prefix,
    read_only: ConnectionSettings.read_only,
    sync_mode: ConnectionSettings.sync_mode,
    bucket: BucketName.optional().describe('s3, gcs'),
    container: ContainerName.optional().describe('azure'),
    endpoint: nullable(Endpoint).describe('null: the provider default'),
    region: nullable(Region).describe('s3; null: none'),
    path_style: S3Fields.path_style.describe('s3'),
    anonymous: S3Fields.anonymous.describe('s3, gcs; true drops the stored credentials, false needs new ones'),
    access_key_id: S3Fields.access_key_id.describe('s3, secret: replaces the stored one'),
    secret_access_key: S3Fields.secret_access_key.describe('s3, secret: replaces the stored one'),
    service_account_json: GcsFields.service_account_json.describe('gcs, secret: replaces the stored credentials'),
    hmac: GcsFields.hmac.describe('gcs, secret: replaces the stored credentials'),
    account: AzureFields.account.describe('azure, with key'),
    key: AzureFields.key.describe('azure, secret: with account, replaces the stored credentials'),
    sas_url: AzureFields.sas_url.describe('azure, secret: replaces the stored credentials'),
    connection_string: AzureFields.connection_string.describe('azure, secret: replaces the stored credentials'),
  })
  .meta({
    id: 'StorageConnectionSettingsRequest',
    description:
      'Only the fields sent change; the provider stays. A secret field sent replaces what is stored, one left out is ' +
      'kept; sending another way to sign in (sas_url instead of account and key) replaces the former one.',
  });
export type StorageConnectionSettingsRequest = z.infer<typeof StorageConnectionSettingsRequest>;

export const StorageConnectionPath = z.object({ id: Text.describe('the connection id, stc_...') });

const Timestamp = z.iso.datetime();

const ConnectionSummaryFields = {
  id: z.string(),
  name: z.string(),
  mount_name: z.string(),
  prefix: z.string().describe('level 1 inside the bucket; "" for the whole bucket'),
  read_only: z.boolean(),
  sync_mode: z.enum(SYNC_MODES),
  endpoint: z.string().nullable(),
  credentials: z
    .record(z.string(), z.string())
    .describe(
      'a hint of each stored secret field (hmac as hmac.access_key_id and hmac.secret): "****" and its last 4 ' +
        "characters, or a service account's client_email; never the secret itself",
    ),
  created_at: Timestamp,
  updated_at: Timestamp,
};

export const StorageConnectionSummary = z
  .discriminatedUnion('provider', [
    z.object({
      provider: z.literal('s3'),
      ...ConnectionSummaryFields,
      bucket: z.string(),
      region: z.string().nullable(),
      path_style: z.boolean(),
      anonymous: z.boolean(),
    }),
    z.object({ provider: z.literal('gcs'), ...ConnectionSummaryFields, bucket: z.string(), anonymous: z.boolean() }),
    z.object({ provider: z.literal('azure'), ...ConnectionSummaryFields, container: z.string(), account: z.string().nullable() }),
  ])
  .meta({ id: 'StorageConnectionSummary' });
export type StorageConnectionSummary = z.infer<typeof StorageConnectionSummary>;

export const StorageConnectionListResponse = z
  .object({ connections: z.array(StorageConnectionSummary) })
  .meta({ id: 'StorageConnectionListResponse' });
export type StorageConnectionListResponse = z.infer<typeof StorageConnectionListResponse>;

export const StorageConnectionTestResponse = z
  .object({
    reachable: z.boolean().describe("the bucket answered a listing of the connection's prefix"),
    writable: z
      .boolean()
      .nullable()
      .describe('a probe object was written below the prefix, read back and deleted; null for a read-only connection, which is never written to'),
    checked_at: Timestamp,
    message: z.string().describe("what was done, or the step that failed with the provider's error (credentials redacted) and what to check"),
  })
  .meta({
    id: 'StorageConnectionTestResponse',
    description: "What testing a connection found, with the connection's own credentials from this server.",
  });
export type StorageConnectionTestResponse = z.infer<typeof StorageConnectionTestResponse>;

// --- Managed volumes ----------------------------------------------------------------------------------------------

const QuotaBytes = z
  .number()
  .int()
  .min(1, 'at least 1 byte')
  .max(Number.MAX_SAFE_INTEGER)
  .describe('the most bytes the volume holds');

export const CreateVolumeRequest = z
  .strictObject({
    name: Text.describe('a display name'),
    slug: MountName.describe('addresses the volume; attachments mount it at /data/<slug> by default'),
    quota_bytes: QuotaBytes.optional().describe('no quota when absent'),
  })
  .meta({ id: 'CreateVolumeRequest' });
export type CreateVolumeRequest = z.infer<typeof CreateVolumeRequest>;

export const VolumeSettingsRequest = z
  .strictObject({ name: Text.optional(), quota_bytes: QuotaBytes.nullable().optional().describe('null: no quota') })
  .meta({ id: 'VolumeSettingsRequest', description: 'Only the fields sent change.' });
export type VolumeSettingsRequest = z.infer<typeof VolumeSettingsRequest>;

export const VolumePath = z.object({ slug: MountName.describe('volume slug') });

export const VolumeSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    slug: z.string(),
    quota_bytes: z.number().int().nullable(),
    used_bytes: z
      .number()
      .int()
      .nullable()
      .describe(
        'bytes stored (regular files\' apparent sizes, or the objects\' sizes on the S3 backend), as measured after the last call ' +
          'that could write it or Files API change; null until measured. At or over quota_bytes, calls attaching the volume writable ' +
          'are refused (409) and uploads too (413)',
      ),
    used_measured_at: Timestamp.nullable().describe('when used_bytes was measured; null until measured'),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'VolumeSummary' });
export type VolumeSummary = z.infer<typeof VolumeSummary>;

export const VolumeListResponse = z.object({ volumes: z.array(VolumeSummary) }).meta({ id: 'VolumeListResponse' });
export type VolumeListResponse = z.infer<typeof VolumeListResponse>;

// --- Attachments --------------------------------------------------------------------------------------------------

export const CreateAttachmentRequest = z
  .strictObject({
    volume: MountName.optional().describe('the slug of the volume to attach; give this or connection'),
    connection: Text.optional().describe('the id of the connection to attach; give this or volume'),
    mount_name: MountName.optional().describe("/data/<mount_name>; default the volume's slug or the connection's mount_name"),
    read_only: z.boolean().optional().describe('default false; a read-only connection is attached read-only'),
  })
  .meta({ id: 'CreateAttachmentRequest' });
export type CreateAttachmentRequest = z.infer<typeof CreateAttachmentRequest>;

export const AttachmentSummary = z
  .object({
    id: z.string(),
    mount_name: z.string(),
    path: z.string().describe('where sandboxes see it: /data/<mount_name>'),
    kind: z.enum(['volume', 'connection']),
    volume: z.string().nullable().describe('the volume slug, for a volume'),
    connection: z.string().nullable().describe('the connection id, for a connection'),
    read_only: z.boolean(),
    created_at: Timestamp,
  })
  .meta({ id: 'AttachmentSummary' });
export type AttachmentSummary = z.infer<typeof AttachmentSummary>;

export const AttachmentListResponse = z.object({ attachments: z.array(AttachmentSummary) }).meta({ id: 'AttachmentListResponse' });
export type AttachmentListResponse = z.infer<typeof AttachmentListResponse>;

// --- What an API key narrows --------------------------------------------------------------------------------------

/** At most this many mounts named in one key's storage. */
export const KEY_STORAGE_MAX_MOUNTS = 64;

export const KeyMountScope = z
  .strictObject({
    prefix: StoragePrefix.optional().describe(
      'level 2: the directory inside the mount that this key sees at /data/<mount>, relative to the mount ("": all of it)',
    ),
    read_only: z.boolean().optional().describe('true: read-only for this key; false is allowed only where the attachment is writable'),
    detached: z.literal(true, { error: 'only true (the key does not see the mount); leave it out to keep the mount' }).optional(),
  })
  .meta({ id: 'KeyMountScope' });
export type KeyMountScope = z.infer<typeof KeyMountScope>;

/** Per mount name of the key's sandbox config: how the key narrows that mount. Mounts not named stay as attached. */
export const KeyStorage = z
  .record(MountName, KeyMountScope, {
    error: (issue) => (issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined),
  })
  .refine((storage) => Object.keys(storage).length <= KEY_STORAGE_MAX_MOUNTS, `at most ${KEY_STORAGE_MAX_MOUNTS} mounts`)
  .describe(
    'per mount name of the sandbox config: a deeper prefix, read_only: true, or detached: true; a key only narrows ' +
      'what the sandbox config attaches',
  );
export type KeyStorage = z.infer<typeof KeyStorage>;

/** A mount as a key sees it narrowed: its name and whether the attachment is read-only. */
export interface AttachedMount {
  mountName: string;
  readOnly: boolean;
}

/**
 * Why a key's storage narrowing does not only narrow what sandbox config `sandbox` attaches (a 400 says it), or
 * undefined when it does: each mount named must be attached, and a read-only attachment stays read-only.
 */
export function keyStorageProblem(attached: readonly AttachedMount[], storage: KeyStorage, sandbox: string): string | undefined {
  for (const [mountName, scope] of Object.entries(storage)) {
    const mount = attached.find((candidate) => candidate.mountName === mountName);
    if (!mount) {
      const names = attached.map((candidate) => candidate.mountName);
      return (
        `storage.${mountName}: sandbox config "${sandbox}" attaches nothing at /data/${mountName} ` +
        `(${names.length === 0 ? 'it attaches no storage' : `its mounts: ${names.join(', ')}`}); a key only narrows its sandbox config's mounts`
      );
    }
    if (scope.detached && (scope.prefix !== undefined || scope.read_only !== undefined)) {
      return `storage.${mountName}: a detached mount takes no prefix or read_only`;
    }
    if (scope.read_only === false && mount.readOnly) {
      return `storage.${mountName}.read_only: sandbox config "${sandbox}" attaches /data/${mountName} read-only; a key may narrow a mount, never make it writable`;
    }
  }
  return undefined;
}

/** The narrowing as stored: entries that change nothing (prefix "", read_only false) left out. */
export function normalizedKeyStorage(storage: KeyStorage): KeyStorage {
  const normalized: KeyStorage = {};
  for (const [mountName, scope] of Object.entries(storage)) {
    const entry: KeyMountScope = scope.detached
      ? { detached: true }
      : { ...(scope.prefix ? { prefix: scope.prefix } : {}), ...(scope.read_only ? { read_only: true } : {}) };
    if (Object.keys(entry).length > 0) normalized[mountName] = entry;
  }
  return normalized;
}
