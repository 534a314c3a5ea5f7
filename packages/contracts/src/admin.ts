import { z } from 'zod';
import { EnvVars } from './execute.js';
import { ImageName } from './images.js';
import { Allowlist, NETWORK_MODES } from './network.js';
import { KeyMountScope, KeyStorage, MountName } from './storage.js';
import { Text } from './text.js';
import { WebNarrowing, WebPolicySettings } from './web.js';

/** Bodies, parameters and answers of the admin API (`/admin/v1`, authenticated by the admin token). */

export const SANDBOX_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const SandboxName = z.string().regex(SANDBOX_NAME_PATTERN, 'lowercase letters, digits and dashes, at most 63');

export const OrganizationSlug = Text.describe('organization slug; the default organization when absent');
export const OrganizationQuery = z.object({ organization: OrganizationSlug.optional() });
export const SandboxPath = z.object({ name: SandboxName.describe('sandbox config name') });
export const AttachmentPath = SandboxPath.extend({ mount: MountName.describe('the mount name of the attachment') });
export const ApiKeyPath = z.object({ id: Text.describe('the key id from the key list') });

export const ORGANIZATION_SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MaxTimeoutSeconds = z
  .number()
  .int()
  .min(1, 'at least 1 second')
  .max(86_400, 'at most 86400 seconds')
  .describe("the longest timeout any of the organization's executions may ask for (its plan's limit)");

export const CreateOrganizationRequest = z.strictObject({
  name: Text,
  slug: z.string().regex(ORGANIZATION_SLUG_PATTERN, 'lowercase letters, digits and dashes, at most 63'),
  max_timeout_seconds: MaxTimeoutSeconds.optional().describe('default 3600'),
});
export type CreateOrganizationRequest = z.infer<typeof CreateOrganizationRequest>;

export const AuditRetentionDays = z
  .number()
  .int()
  .min(30, 'at least 30 days')
  .max(3650, 'at most 3650 days')
  .describe("days the organization's audit entries are kept; whole months are dropped once older (default 365)");

export const OrganizationSettingsRequest = z.strictObject({
  name: Text.optional(),
  max_timeout_seconds: MaxTimeoutSeconds.optional(),
  audit_retention_days: AuditRetentionDays.optional(),
});
export type OrganizationSettingsRequest = z.infer<typeof OrganizationSettingsRequest>;

export const OrganizationPath = z.object({ slug: Text.describe('organization slug') });

/** What a key may narrow its sandbox config's network to (a key never widens it). */
export const KEY_NETWORK_MODES = ['blocked', 'allowlist'] as const;

export const CreateApiKeyRequest = z.strictObject({
  name: Text,
  organization: OrganizationSlug.optional(),
  sandbox: SandboxName.optional().describe('sandbox config name; default "default"'),
  env_vars: EnvVars.optional(),
  network: z
    .enum(KEY_NETWORK_MODES, {
      error: "a key may only narrow the network to 'blocked' or to 'allowlist' (with network_allow within its sandbox config's)",
    })
    .optional()
    .describe("narrows the sandbox config's network: 'blocked', or 'allowlist' when the config is 'allowlist' or 'unrestricted'"),
  network_allow: Allowlist.optional().describe(
    "with network 'allowlist': the entries the key keeps, each within the sandbox config's list (the config's whole " +
      "list when absent; needed when the config is 'unrestricted')",
  ),
  storage: KeyStorage.optional(),
  connectors: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a connector name'))
    .max(64)
    .optional()
    .describe("the connectors of its sandbox config the key keeps, each attached there ([] keeps none); all of them when absent"),
  web: WebNarrowing.nullable()
    .optional()
    .describe("narrows the sandbox config's web policy (each field only narrows it; off: true turns the tools off); absent or null keeps it"),
});
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

export const EXECUTION_RETENTIONS = ['1h', '24h', '7d', '30d', 'forever'] as const;
export type ExecutionRetention = (typeof EXECUTION_RETENTIONS)[number];
export const THREAD_RETENTIONS = ['24h', '7d', '30d', 'forever'] as const;
export type ThreadRetention = (typeof THREAD_RETENTIONS)[number];
/** How a sandbox's interpreter starts; the runtime's SANDBOX_STARTS (a server test keeps the two equal). */
export const SANDBOX_STARTS = ['fresh', 'fork'] as const;
export type SandboxStart = (typeof SANDBOX_STARTS)[number];
const SandboxStart = z
  .enum(SANDBOX_STARTS, {
    error: "'fresh' (a new interpreter for each sandbox) or 'fork' (python without network forks a template with the data stack imported)",
  })
  .describe(
    "how the sandboxes' python interpreters start: 'fresh' (the default), bubblewrap starts a new interpreter for each " +
      "sandbox; 'fork', each is a fork of a template interpreter that has already imported numpy, pandas and " +
      'matplotlib, placed in fresh namespaces with its own cgroup, seccomp and no capabilities: much faster starts, ' +
      "`import pandas` in a few milliseconds. Only python without network forks: node, bash and sandboxes with network " +
      'start fresh whatever the setting',
  );

export const SandboxSettingsRequest = z.strictObject({
  image: ImageName.optional().describe('a ready image of the catalog (GET /admin/v1/images); default "default"'),
  cpu: z.number().min(0.5, 'at least 0.5 cores').max(4, 'at most 4 cores').optional(),
  memory_mb: z.number().int().min(128, 'at least 128 MiB').max(16384, 'at most 16384 MiB').optional(),
  network: z
    .enum(NETWORK_MODES, {
      error:
        "'blocked' (no network), 'allowlist' (only the names and networks of network_allow) or 'unrestricted' " +
        '(the internet; private and host addresses are always blocked)',
    })
    .optional(),
  network_allow: Allowlist.optional().describe(
    "with network 'allowlist' (and only then): the names (api.example.com), wildcards (*.example.com) and public IPv4 " +
      'networks (198.51.100.0/24) the sandbox reaches; at least one. Changing network away from allowlist clears it.',
  ),
  env_vars: EnvVars.optional(),
  timeout_max_seconds: z.number().int().min(1).max(86_400).optional(),
  execution_retention: z.enum(EXECUTION_RETENTIONS).optional(),
  thread_retention: z.enum(THREAD_RETENTIONS).optional(),
  start: SandboxStart.optional(),
  web: WebPolicySettings.nullable()
    .optional()
    .describe('the web tools (web-fetch, web-search) and their policy; null turns them off (the default). A change replaces the whole policy: omitted fields take their defaults'),
});
export type SandboxSettingsRequest = z.infer<typeof SandboxSettingsRequest>;

export const CreateSandboxRequest = SandboxSettingsRequest.extend({
  name: SandboxName,
  organization: OrganizationSlug.optional(),
});
export type CreateSandboxRequest = z.infer<typeof CreateSandboxRequest>;

const Timestamp = z.iso.datetime();

export const ApiKeySummary = z.object({
  id: z.string(),
  name: z.string(),
  display_prefix: z.string().describe('the start of the key, to recognize it'),
  sandbox_config_id: z.string(),
  network: z.enum(KEY_NETWORK_MODES).nullable().describe("how the key narrows its sandbox config's network; null keeps it"),
  network_allow: z
    .array(z.string())
    .nullable()
    .describe("with network 'allowlist': the entries the key keeps; null keeps the sandbox config's"),
  storage: z
    .record(z.string(), KeyMountScope)
    .describe("how the key narrows its sandbox config's mounts, per mount name; {} keeps them as attached"),
  connectors: z.array(z.string()).nullable().describe("the connectors of its sandbox config the key keeps; null keeps them all"),
  web: WebNarrowing.nullable().describe("how the key narrows its sandbox config's web policy; null keeps it"),
  created_at: Timestamp,
  last_used_at: Timestamp.nullable(),
  revoked_at: Timestamp.nullable(),
}).meta({ id: 'ApiKeySummary' });
export type ApiKeySummary = z.infer<typeof ApiKeySummary>;

export const ApiKeyListResponse = z.object({ api_keys: z.array(ApiKeySummary) }).meta({ id: 'ApiKeyListResponse' });
export type ApiKeyListResponse = z.infer<typeof ApiKeyListResponse>;

export const CreatedApiKeyResponse = ApiKeySummary.extend({
  key: z.string().describe('the whole API key; shown once, never stored'),
  sandbox: z.string().describe('the sandbox config name'),
}).meta({ id: 'CreatedApiKeyResponse', description: 'a key just created: the only answer that shows the whole key' });
export type CreatedApiKeyResponse = z.infer<typeof CreatedApiKeyResponse>;

export const OrganizationSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    slug: z.string(),
    max_timeout_seconds: z.number().int(),
    audit_retention_days: z.number().int(),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'OrganizationSummary' });
export type OrganizationSummary = z.infer<typeof OrganizationSummary>;

export const OrganizationListResponse = z
  .object({ organizations: z.array(OrganizationSummary) })
  .meta({ id: 'OrganizationListResponse' });
export type OrganizationListResponse = z.infer<typeof OrganizationListResponse>;

export const SandboxSummary = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  cpu: z.number(),
  memory_mb: z.number().int(),
  network: z.enum(NETWORK_MODES),
  network_allow: z.array(z.string()).describe("the allowlist's entries; [] unless network is 'allowlist'"),
  env_vars: z.record(z.string(), z.string()),
  timeout_max_seconds: z.number().int(),
  execution_retention: z.enum(EXECUTION_RETENTIONS),
  thread_retention: z.enum(THREAD_RETENTIONS),
  start: SandboxStart,
  web: WebPolicySettings.nullable().describe('the web tools\' policy; null: the tools are off'),
}).meta({ id: 'SandboxSummary' });
export type SandboxSummary = z.infer<typeof SandboxSummary>;

export const SandboxListResponse = z.object({ sandboxes: z.array(SandboxSummary) }).meta({ id: 'SandboxListResponse' });
export type SandboxListResponse = z.infer<typeof SandboxListResponse>;

export const WebhookSecretResponse = z
  .object({ secret: z.string().describe('`whsec_...`: verifies the webhook-signature of deliveries for this sandbox config') })
  .meta({ id: 'WebhookSecretResponse' });
export type WebhookSecretResponse = z.infer<typeof WebhookSecretResponse>;

export const ADMIN_ROLES = ['owner', 'admin', 'viewer'] as const;
export const AdminRole = z
  .enum(ADMIN_ROLES)
  .describe('owner: everything, members and tokens; admin: configuration and keys; viewer: read only, no secrets');

export const CreateAdminTokenRequest = z.strictObject({
  name: Text.describe('unique among unrevoked tokens; the audit log names the token by it'),
  role: AdminRole,
});
export const AdminTokenPath = z.object({ id: Text.describe('the token id from the token list') });

export const AdminTokenSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    display_prefix: z.string(),
    role: AdminRole,
    created_by: z.string(),
    created_at: Timestamp,
    last_used_at: Timestamp.nullable(),
    revoked_at: Timestamp.nullable(),
  })
  .meta({ id: 'AdminTokenSummary' });
export type AdminTokenSummary = z.infer<typeof AdminTokenSummary>;
export const AdminTokenListResponse = z.object({ admin_tokens: z.array(AdminTokenSummary) });
export const CreatedAdminTokenResponse = AdminTokenSummary.extend({
  token: z.string().describe('the whole token: shown once, never stored'),
});
export type CreatedAdminTokenResponse = z.infer<typeof CreatedAdminTokenResponse>;

export const ServerNodeSummary = z
  .object({
    id: z.string().describe('the node (AIRLOCK_NODE_ID)'),
    url: z.string().nullable().describe('where the other nodes reach it; null when they cannot'),
    version: z.string(),
    started_at: Timestamp,
    heartbeat_at: Timestamp.describe("its last beat, on the database's clock"),
    draining: z.boolean().describe('it takes no new execution and finishes the running ones before it stops'),
    this_node: z.boolean().describe('the node that answered this request'),
  })
  .meta({ id: 'ServerNodeSummary' });
export type ServerNodeSummary = z.infer<typeof ServerNodeSummary>;
export const ServerNodeListResponse = z.object({ nodes: z.array(ServerNodeSummary) });
export type ServerNodeListResponse = z.infer<typeof ServerNodeListResponse>;

export const EraseOrganizationRequest = z.strictObject({
  confirm: Text.describe("the organization's slug again: erasing cannot be undone"),
});
export const EraseOrganizationResponse = z.object({
  erased: z.record(z.string(), z.number().int()).describe('how many of each kind of thing went'),
  volume_files_removed: z.boolean().describe("false when the volumes' files could not be removed (logged; remove them by hand)"),
});
