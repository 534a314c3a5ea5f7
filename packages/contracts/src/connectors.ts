import { z } from 'zod';
import { ENV_NAME_PATTERN } from './execute.js';
import { isReservedEnvName } from './limits.js';
import { ipv4Range } from './network.js';
import { Text } from './text.js';

/**
 * Connectors (docs/decisions/0028-connectors.md): credentials an operator configures once per organization, injected
 * into each call of the sandbox configs that attach them as the files and variables standard tools read.
 */

export const CONNECTOR_TYPES = ['postgresql', 'mysql', 'redis', 'mongodb', 's3', 'gcs', 'bigquery', 'azure', 'github', 'http_api'] as const;
export type ConnectorType = (typeof CONNECTOR_TYPES)[number];

export const CONNECTOR_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const ConnectorName = z
  .string()
  .regex(CONNECTOR_NAME_PATTERN, 'lowercase letters, digits, "_" and "-", at most 63, starting with a letter or digit');

/** Secrets shorter than this could not be redacted from output without mangling ordinary text. */
export const MIN_SECRET_LENGTH = 8;
const MAX_SECRET_BYTES = 16 * 1024;

/**
 * Whether text is valid Unicode: a lone surrogate has no UTF-8 spelling, so it could be neither stored (jsonb) nor
 * written into a file as given.
 */
const wellFormed = (text: string): boolean => !/\p{Cs}/u.test(text);
const WELL_FORMED = 'must be valid Unicode (no lone surrogates)';

const Secret = z
  .string()
  .min(MIN_SECRET_LENGTH, `at least ${MIN_SECRET_LENGTH} characters: shorter values could not be redacted from output without mangling it`)
  .max(MAX_SECRET_BYTES, `at most ${MAX_SECRET_BYTES} characters`)
  // eslint-disable-next-line no-control-regex -- NUL is the character refused
  .regex(/^[^\u0000]*$/, 'must not contain NUL')
  .refine(wellFormed, WELL_FORMED);

/** A value written into a configuration file: one line, no NUL. */
const Line = Text.max(255).regex(/^[^\n\r]*$/, 'one line').refine(wellFormed, WELL_FORMED);

const HOST_PATTERN = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Whether a host names the Airlock host's loopback, which no sandbox can reach. */
export function isLoopbackHost(host: string): boolean {
  return /^127\./.test(host) || host === '0.0.0.0' || host.toLowerCase() === 'localhost' || host.toLowerCase().endsWith('.localhost');
}

/**
 * Addresses no connector opens, whatever its host resolves to: this network, loopback, link-local (cloud metadata
 * services answer at 169.254.169.254), multicast and reserved. Private networks stay open: the operator named them.
 */
export const NEVER_CONNECTOR_IPV4 = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'] as const;
const NEVER_CONNECTOR_RANGES = NEVER_CONNECTOR_IPV4.map((cidr) => ipv4Range(cidr)!);

/** Whether an IPv4 address is one no connector may open (NEVER_CONNECTOR_IPV4). */
export function isNeverConnectorAddress(address: string): boolean {
  const value = ipv4Range(`${address}/32`)?.first;
  return value === undefined || NEVER_CONNECTOR_RANGES.some((range) => range.first <= value && value <= range.last);
}

/** Link-local addresses: cloud metadata services answer at 169.254.169.254, and no sandbox may reach them. */
const isLinkLocalHost = (host: string): boolean => /^169\.254\./.test(host);

export const ConnectorHost = z
  .string()
  .regex(HOST_PATTERN, 'a DNS name or an IPv4 address (sandboxes have no IPv6)')
  .refine((host) => !isLoopbackHost(host), "a loopback address: sandboxes cannot reach the Airlock host's loopback; use an address they can route to")
  .refine((host) => !isLinkLocalHost(host), 'a link-local address (169.254.0.0/16, where cloud metadata services answer): no sandbox may reach one');

const Port = z.number().int().min(1).max(65_535);

/** An http(s) URL whose host and port the connector opens. */
export const ConnectorUrl = z
  .string()
  .max(2048)
  .refine(wellFormed, WELL_FORMED)
  .refine((value) => {
    try {
      const url = new URL(value);
      const { hostname } = url;
      return (url.protocol === 'https:' || url.protocol === 'http:') && HOST_PATTERN.test(hostname) && !isLoopbackHost(hostname) && !isLinkLocalHost(hostname);
    } catch {
      return false;
    }
  }, 'an http(s) URL whose host is a DNS name or an IPv4 address, not loopback or link-local (169.254.0.0/16)');

const Pem = z
  .string()
  .max(64 * 1024)
  .regex(/-----BEGIN CERTIFICATE-----/, 'PEM certificates (-----BEGIN CERTIFICATE-----)')
  .refine(wellFormed, WELL_FORMED)
  .describe('PEM certificates the clients trust for this endpoint (a private CA); the system roots otherwise');

const EnvName = z
  .string()
  .max(128)
  .regex(ENV_NAME_PATTERN, 'a variable name: ^[A-Za-z_][A-Za-z0-9_]*$')
  .refine((name) => !isReservedEnvName(name), 'a name the sandbox sets itself (PATH, HOME, LD_*, AIRLOCK_* and similar)');

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

const Postgresql = z.strictObject({
  type: z.literal('postgresql'),
  host: ConnectorHost,
  port: Port.default(5432),
  database: Line,
  user: Line,
  password: Secret,
  sslmode: z.enum(SSL_MODES).default('prefer').describe("libpq's sslmode"),
  ca_certificate: Pem.optional(),
});

const Mysql = z.strictObject({
  type: z.literal('mysql'),
  host: ConnectorHost,
  port: Port.default(3306),
  database: Line.optional(),
  user: Line,
  password: Secret,
  tls: z.boolean().default(true).describe("false: the client connects without TLS (MariaDB's client requires it by default)"),
  ca_certificate: Pem.optional(),
});

const Redis = z.strictObject({
  type: z.literal('redis'),
  host: ConnectorHost,
  port: Port.default(6379),
  username: Line.optional().describe('an ACL user; the default user when absent'),
  password: Secret.optional(),
  database: z.number().int().min(0).max(15).default(0),
  tls: z.boolean().default(false),
});

const Mongodb = z.strictObject({
  type: z.literal('mongodb'),
  host: ConnectorHost,
  port: Port.default(27017),
  database: Line,
  user: Line,
  password: Secret,
  auth_source: Line.default('admin'),
  tls: z.boolean().default(false),
});

const S3 = z.strictObject({
  type: z.literal('s3'),
  region: Line.default('us-east-1'),
  endpoint: ConnectorUrl.optional().describe('an S3-compatible store; AWS S3 of the region when absent'),
  bucket: Line.optional().describe('a bucket the test connection lists (rather than the account\'s buckets); code names its buckets itself'),
  path_style: z.boolean().default(false),
  access_key_id: Secret,
  secret_access_key: Secret,
  session_token: Secret.optional(),
});

const GoogleCredentials = Secret.max(MAX_SECRET_BYTES).describe(
  'Application Default Credentials: a service account key file or an authorized user file (JSON)',
);

const Gcs = z.strictObject({
  type: z.literal('gcs'),
  project: Line.optional().describe("the project; the service account's when absent"),
  bucket: Line.optional(),
  endpoint: ConnectorUrl.optional().describe('a GCS-compatible endpoint (an emulator); storage.googleapis.com when absent'),
  credentials_json: GoogleCredentials.optional().describe('ADC JSON; none for an emulator that needs no sign-in'),
});

const Bigquery = z.strictObject({
  type: z.literal('bigquery'),
  project: Line.optional(),
  location: Line.optional().describe("where the test connection's query runs; the client libraries read no variable for it, so code passes its own"),
  credentials_json: GoogleCredentials,
});

const Azure = z.strictObject({
  type: z.literal('azure'),
  account: z
    .string()
    .regex(/^[a-z0-9]{3,24}$/, 'a storage account name: 3 to 24 lowercase letters and digits')
    .optional()
    .describe('the storage account; its blob endpoint is https://<account>.blob.core.windows.net unless endpoint says otherwise'),
  endpoint: ConnectorUrl.optional().describe("the blob endpoint; https://<account>.blob.core.windows.net when absent"),
  container: Line.optional(),
  key: Secret.optional().describe('the account key (with account)'),
  sas_token: Secret.optional().describe('a SAS token (with account)'),
  connection_string: Secret.optional(),
  tenant_id: Line.optional().describe('a service principal: tenant_id, client_id and client_secret together'),
  client_id: Line.optional(),
  client_secret: Secret.optional(),
});

const Github = z.strictObject({
  type: z.literal('github'),
  host: ConnectorHost.default('github.com').describe('github.com or a GitHub Enterprise Server host'),
  api_host: ConnectorHost.optional().describe('api.github.com for github.com; the host itself for GitHub Enterprise'),
  token: Secret,
  ca_certificate: Pem.optional(),
});

const HttpApi = z.strictObject({
  type: z.literal('http_api'),
  base_url: ConnectorUrl,
  env_var: EnvName.describe('the variable that holds the key, e.g. ANTHROPIC_API_KEY'),
  base_url_env_var: EnvName.optional().describe('a variable to hold base_url, e.g. ANTHROPIC_BASE_URL; none when absent'),
  api_key: Secret,
});

/** A connector's whole settings, secrets included, by type. */
export const ConnectorSettings = z.discriminatedUnion('type', [Postgresql, Mysql, Redis, Mongodb, S3, Gcs, Bigquery, Azure, Github, HttpApi]);
export type ConnectorSettings = z.output<typeof ConnectorSettings>;

/** The settings of each type that are secrets: sealed, never returned, redacted from output. */
export const CONNECTOR_SECRET_FIELDS: Record<ConnectorType, readonly string[]> = {
  postgresql: ['password'],
  mysql: ['password'],
  redis: ['password'],
  mongodb: ['password'],
  s3: ['access_key_id', 'secret_access_key', 'session_token'],
  gcs: ['credentials_json'],
  bigquery: ['credentials_json'],
  azure: ['key', 'sas_token', 'connection_string', 'client_secret'],
  github: ['token'],
  http_api: ['api_key'],
};

/** The settings of one type, by the type's name. */
export const CONNECTOR_SCHEMAS: Record<ConnectorType, z.ZodType<ConnectorSettings>> = {
  postgresql: Postgresql,
  mysql: Mysql,
  redis: Redis,
  mongodb: Mongodb,
  s3: S3,
  gcs: Gcs,
  bigquery: Bigquery,
  azure: Azure,
  github: Github,
  http_api: HttpApi,
} as Record<ConnectorType, z.ZodType<ConnectorSettings>>;

const named = { name: ConnectorName };
export const CreateConnectorRequest = z
  .discriminatedUnion('type', [
    Postgresql.extend(named),
    Mysql.extend(named),
    Redis.extend(named),
    Mongodb.extend(named),
    S3.extend(named),
    Gcs.extend(named),
    Bigquery.extend(named),
    Azure.extend(named),
    Github.extend(named),
    HttpApi.extend(named),
  ])
  .meta({ id: 'CreateConnectorRequest', description: "a connector's name, type and the type's settings (docs/connectors.md)" });
export type CreateConnectorRequest = z.output<typeof CreateConnectorRequest>;

export const ConnectorChangesRequest = z
  .record(z.string(), z.unknown())
  .describe("the settings to change, of the connector's type; a secret left out is kept, null removes an optional setting")
  .meta({ id: 'ConnectorChangesRequest' });
export type ConnectorChangesRequest = z.infer<typeof ConnectorChangesRequest>;

export const ConnectorPath = z.object({ connector: ConnectorName.describe('the connector name') });

export const CONNECTOR_STATUSES = ['untested', 'ok', 'failed'] as const;

const Timestamp = z.iso.datetime();

export const ConnectorSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    type: z.enum(CONNECTOR_TYPES),
    settings: z.record(z.string(), z.unknown()).describe('the settings that are not secrets'),
    secrets: z.record(z.string(), z.string()).describe('per secret setting, a hint (****abcd, a client_email); never the value'),
    endpoints: z.array(z.string()).describe('host:port the connector opens for its calls, also through a blocked network'),
    variables: z.array(z.string()).describe('the environment variables it sets in its calls'),
    status: z.enum(CONNECTOR_STATUSES).describe('the result of the last test; untested after a change'),
    status_message: z.string().nullable(),
    tested_at: Timestamp.nullable(),
    used_by: z.array(z.string()).describe('the sandbox configs that attach it'),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'ConnectorSummary' });
export type ConnectorSummary = z.infer<typeof ConnectorSummary>;

export const ConnectorListResponse = z.object({ connectors: z.array(ConnectorSummary) }).meta({ id: 'ConnectorListResponse' });
export type ConnectorListResponse = z.infer<typeof ConnectorListResponse>;

export const ConnectorTestResponse = z
  .object({
    status: z.enum(['ok', 'failed']),
    message: z.string().describe("what the probe did and saw, secrets redacted"),
    duration_ms: z.number().int(),
    tested_at: Timestamp,
  })
  .meta({ id: 'ConnectorTestResponse' });
export type ConnectorTestResponse = z.infer<typeof ConnectorTestResponse>;

export const SandboxConnectorPath = z.object({
  name: z.string().describe('sandbox config name'),
  connector: ConnectorName.describe('the connector name'),
});

export const AttachConnectorRequest = z
  .strictObject({ connector: ConnectorName.describe('the name of a connector of the organization') })
  .meta({ id: 'AttachConnectorRequest' });
export type AttachConnectorRequest = z.infer<typeof AttachConnectorRequest>;
