import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseRoleRules, type RoleRule } from './auth/role-mapping.js';
import { API_KEY_PATTERN, API_KEY_REGION_PATTERN, API_KEY_RULE, isLoopbackHost } from '@airlock/contracts';
import { DEFAULT_RCLONE_PATH } from '@airlock/storage';
import { dataDirectoryLayout } from './data-directory.js';

/** Server configuration. This module is the only reader of process.env. */
export interface Config {
  host: string;
  port: number;
  dataDirectory: string;
  imagesDirectory: string;
  /** PostgreSQL URL; the embedded PGlite database in the data directory when absent. */
  databaseUrl: string | undefined;
  /**
   * PostgreSQL URL of the role that owns the schema: it runs migrations and audit retention, and grants the role of
   * `databaseUrl` what the server needs (the audit log only INSERT and SELECT). Unset: `databaseUrl`'s role does all.
   */
  databaseOwnerUrl: string | undefined;
  /** An API key registered on first start instead of a generated one. */
  bootstrapApiKey: string | undefined;
  /** Admin token; generated and stored in the data directory when absent. */
  adminToken: string | undefined;
  /** Region segment of generated API keys (`sk-<region>-...`). */
  keyRegion: string;
  sandboxUid: number;
  sandboxGid: number;
  bwrapPath: string;
  /** The rclone storage mounts run: the pinned build scripts/setup.sh installs unless AIRLOCK_RCLONE names another. */
  rclonePath: string;
  /** How long a call waits for its writes to buckets to be uploaded before it answers `storage_sync: pending`. */
  storageSyncSeconds: number;
  imageMirror: string | undefined;
  /** The largest image archive (OCI layout or `docker save` tar) an upload may send. */
  imageArchiveMaxBytes: number;
  /** Pre-started sandboxes kept in all (0 turns the warm pool off), per pool key, and how long an unused key keeps them. */
  poolMaxSlots: number;
  poolMaxSlotsPerKey: number;
  poolIdleSeconds: number;
  /**
   * Modules a python fork template imports before its first fork (sandbox configs with `start: fork`); undefined
   * for the runtime's default (the data stack).
   */
  forkPreload: string[] | undefined;
  /** How long an authenticated API key is reused without a database lookup; 0 looks every request up. */
  authCacheSeconds: number;
  /** Where thread layers are stored: an S3-compatible bucket when configured, else `<data>/blobs`. */
  s3: S3Config | undefined;
  /** Base URL of the signed file URLs this server hands out (behind a proxy); the request's origin when unset. */
  publicUrl: string | undefined;
  /** Hex key signing file URLs; shared by every node of a deployment. `<data>/url-signing-key` when unset. */
  urlSigningKey: string | undefined;
  /** Web origins whose pages may call the API from a browser (CORS); none when empty. */
  corsOrigins: string[];
  /** Requests per minute per API key (on each server node). */
  rateLimitPerMinute: number;
  /** Executions an organization may run at once (on each server node). */
  maxConcurrentExecutionsPerOrganization: number;
  /** How often expired threads, executions and audit months and unused blobs are removed. */
  sweepIntervalSeconds: number;
  /** Days the audit entries that belong to no organization are kept (organizations have their own setting). */
  instanceAuditRetentionDays: number;
  /** Age below which an unreferenced blob or cached layer is kept (a save or a call may still use it). */
  garbageGraceSeconds: number;
  /**
   * Master keys sealing secrets at rest (AES-256-GCM), the current one first; every node of a deployment needs them.
   * `<data>/master-key` when unset.
   */
  masterKeys: Buffer[] | undefined;
  webhooks: WebhookConfig;
  clients: ClientLimits;
  /** OIDC sign-in of the console; without it, the bootstrap owner signs in through a one-time link printed at start. */
  oidc: OidcConfig | undefined;
  sessions: SessionConfig;
  /** The email of the bootstrap owner (an owner over every organization who signs in through the one-time link). */
  ownerEmail: string;
  /** Sandboxes with network (docs/decisions/0020-sandbox-network.md); undefined when turned off. */
  network: NetworkConfig | undefined;
  /** The DNS servers (`address[:port]`) web tool fetches resolve names with; the host's resolver when absent. */
  webDns: string[] | undefined;
  node: NodeConfig;
}

/** This server as one node of several sharing a database (docs/decisions/0032-server-nodes.md). */
export interface NodeConfig {
  /** Its name among the nodes; `<data>/node-id` when unset. */
  id: string | undefined;
  /** Where the other nodes reach it (`http://address:port`); derived from the address it listens on when unset. */
  url: string | undefined;
  /** How often it tells the database it is alive; a node silent for three beats is taken for gone. */
  heartbeatSeconds: number;
  /** How long a stopping node lets running calls finish before it cancels them. */
  drainSeconds: number;
}

export interface NetworkConfig {
  /** The /16 sandboxes' links are numbered from, as its first two octets (`10.213`); distinct per server on a host. */
  subnet: string;
  /** Shaping per configured core, both ways. */
  megabitsPerCpu: number;
  /** Resolvers the sandboxes' resolvers ask; the host's /etc/resolv.conf when undefined. */
  dnsUpstream: string[] | undefined;
}

/** Limits on slow and greedy HTTP clients (docs/decisions/0017-slow-clients.md). */
export interface ClientLimits {
  /** How long a request's headers may take to arrive; then Node answers a bare 408 and closes the connection. */
  headersTimeoutSeconds: number;
  /**
   * How long a JSON body may take to arrive in full once the server reads it, and how long a signed upload may send no
   * bytes; then 408 `request_timeout` and the connection is closed.
   */
  bodyTimeoutSeconds: number;
  /** Connections one client address may hold open; those beyond get 503 `unavailable` and are closed. 0: no cap. */
  maxConnectionsPerAddress: number;
}

export interface WebhookConfig {
  /** Development mode: webhooks may go to loopback receivers, over plain http. */
  allowLoopback: boolean;
  maxAttempts: number;
  /** Delay before the first retry; it doubles with each further one. */
  retryBaseSeconds: number;
  attemptTimeoutSeconds: number;
}

export interface S3Config {
  bucket: string;
  prefix: string;
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean | undefined;
  /** Static credentials; the AWS default chain when unset. */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/** Sign-in through the operators' OpenID Connect provider (AIRLOCK_OIDC_*). */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the provider sends the browser back: this server's /auth/oidc/callback, registered with the provider. */
  redirectUrl: string;
  scopes: string;
  /** The claim whose values the claim rules match (a dotted path for nested claims). */
  roleClaim: string;
  claimRules: RoleRule[];
  /** Rules on the domain of a verified email. */
  domainRules: RoleRule[];
}

export interface SessionConfig {
  idleSeconds: number;
  maxSeconds: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

interface Option<T> {
  /** Command-line value, if given. */
  flag?: T | undefined;
  variable: string;
  schema: z.ZodType<T>;
  fallback: T;
  /** The value is a secret: an error names the variable and the rule, never the value. */
  secret?: boolean;
}

function resolveOption<T>(option: Option<T>, environment: NodeJS.ProcessEnv): T {
  if (option.flag !== undefined) return option.flag;
  const raw = environment[option.variable];
  if (raw === undefined || raw === '') return option.fallback;
  const parsed = option.schema.safeParse(raw);
  if (!parsed.success) {
    const shown = option.secret ? option.variable : `${option.variable}=${JSON.stringify(raw)}`;
    throw new ConfigError(`${shown} is invalid: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

const port = z.coerce.number().int().min(0).max(65535);
/** A comma-separated list, its items trimmed and empty ones dropped. */
const commaList = z.string().transform((list) => list.split(',').map((item) => item.trim()).filter(Boolean));
/** DNS servers, comma-separated: `address[:port]`. */
const RESOLVERS = commaList.pipe(z.array(z.string().regex(/^\d+\.\d+\.\d+\.\d+(:\d+)?$/, 'IPv4 addresses, optionally with :port')).min(1));
/** python modules, comma-separated (`numpy, pandas, matplotlib.pyplot`); `none` for none. */
const MODULES = z.string().transform((list) => (list.trim() === 'none' ? '' : list)).pipe(commaList).pipe(z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'python module names, such as numpy or matplotlib.pyplot')));
const id = z.coerce.number().int().min(1).max(2 ** 31 - 1);
const count = z.coerce.number().int().min(0).max(10_000);
const text = z.string().min(1);
const optionalText = z.string().min(1).optional();

/** Resolves configuration: command-line flag, then environment variable, then default. */
export function loadConfig(
  flags: { host?: string; port?: number; dataDirectory?: string } = {},
  environment: NodeJS.ProcessEnv = process.env,
): Config {
  const dataDirectory = resolve(
    resolveOption({ flag: flags.dataDirectory, variable: 'AIRLOCK_DATA_DIR', schema: text, fallback: defaultDataDirectory(environment) }, environment),
  );
  const config: Config = {
    host: resolveOption({ flag: flags.host, variable: 'AIRLOCK_HOST', schema: text, fallback: '127.0.0.1' }, environment),
    port: resolveOption({ flag: flags.port, variable: 'AIRLOCK_PORT', schema: port, fallback: 8080 }, environment),
    dataDirectory,
    imagesDirectory: resolve(
      resolveOption({ variable: 'AIRLOCK_IMAGES_DIR', schema: text, fallback: dataDirectoryLayout(dataDirectory).images }, environment),
    ),
    databaseUrl: resolveOption({ variable: 'DATABASE_URL', schema: optionalText, fallback: undefined }, environment),
    databaseOwnerUrl: resolveOption({ variable: 'AIRLOCK_DATABASE_OWNER_URL', schema: optionalText, fallback: undefined, secret: true }, environment),
    bootstrapApiKey: resolveOption(
      {
        variable: 'AIRLOCK_BOOTSTRAP_API_KEY',
        schema: z.string().regex(API_KEY_PATTERN, `an API key must look like ${API_KEY_RULE}`).optional(),
        fallback: undefined,
        secret: true,
      },
      environment,
    ),
    adminToken: resolveOption({ variable: 'AIRLOCK_ADMIN_TOKEN', schema: optionalText, fallback: undefined, secret: true }, environment),
    keyRegion: resolveOption(
      { variable: 'AIRLOCK_KEY_REGION', schema: z.string().regex(API_KEY_REGION_PATTERN, 'lowercase letters and digits, at most 16'), fallback: 'local' },
      environment,
    ),
    sandboxUid: resolveOption({ variable: 'AIRLOCK_SANDBOX_UID', schema: id, fallback: 61000 }, environment),
    sandboxGid: resolveOption({ variable: 'AIRLOCK_SANDBOX_GID', schema: id, fallback: 61000 }, environment),
    bwrapPath: resolveOption({ variable: 'AIRLOCK_BWRAP_PATH', schema: text, fallback: '/usr/bin/bwrap' }, environment),
    rclonePath: resolveOption({ variable: 'AIRLOCK_RCLONE', schema: text, fallback: DEFAULT_RCLONE_PATH }, environment),
    storageSyncSeconds: resolveOption({ variable: 'AIRLOCK_STORAGE_SYNC_SECONDS', schema: count, fallback: 30 }, environment),
    imageMirror: resolveOption({ variable: 'AIRLOCK_IMAGE_MIRROR', schema: optionalText, fallback: undefined }, environment),
    imageArchiveMaxBytes: resolveOption(
      { variable: 'AIRLOCK_IMAGE_ARCHIVE_MAX_BYTES', schema: z.coerce.number().int().min(1024).max(2 ** 45), fallback: 16 * 2 ** 30 },
      environment,
    ),
    poolMaxSlots: resolveOption({ variable: 'AIRLOCK_POOL_MAX_SLOTS', schema: count, fallback: 16 }, environment),
    poolMaxSlotsPerKey: resolveOption({ variable: 'AIRLOCK_POOL_MAX_SLOTS_PER_KEY', schema: count, fallback: 8 }, environment),
    poolIdleSeconds: resolveOption({ variable: 'AIRLOCK_POOL_IDLE_SECONDS', schema: count, fallback: 300 }, environment),
    forkPreload: resolveOption({ variable: 'AIRLOCK_FORK_PRELOAD', schema: MODULES, fallback: undefined }, environment),
    authCacheSeconds: resolveOption({ variable: 'AIRLOCK_AUTH_CACHE_SECONDS', schema: count, fallback: 5 }, environment),
    s3: loadS3Config(environment),
    rateLimitPerMinute: resolveOption(
      { variable: 'AIRLOCK_RATE_LIMIT_PER_MINUTE', schema: z.coerce.number().int().min(1).max(1_000_000), fallback: 1200 },
      environment,
    ),
    maxConcurrentExecutionsPerOrganization: resolveOption(
      { variable: 'AIRLOCK_MAX_CONCURRENT_EXECUTIONS', schema: z.coerce.number().int().min(1).max(100_000), fallback: 64 },
      environment,
    ),
    sweepIntervalSeconds: resolveOption(
      { variable: 'AIRLOCK_SWEEP_INTERVAL_SECONDS', schema: z.coerce.number().int().min(1).max(86_400), fallback: 600 },
      environment,
    ),
    instanceAuditRetentionDays: resolveOption(
      { variable: 'AIRLOCK_AUDIT_RETENTION_DAYS', schema: z.coerce.number().int().min(30).max(3650), fallback: 365 },
      environment,
    ),
    garbageGraceSeconds: resolveOption(
      { variable: 'AIRLOCK_GARBAGE_GRACE_SECONDS', schema: z.coerce.number().int().min(0).max(30 * 86_400), fallback: 7200 },
      environment,
    ),
    publicUrl: resolveOption(
      { variable: 'AIRLOCK_PUBLIC_URL', schema: z.url().transform((url) => url.replace(/\/+$/, '')).optional(), fallback: undefined },
      environment,
    ),
    urlSigningKey: resolveOption(
      {
        variable: 'AIRLOCK_URL_SIGNING_KEY',
        schema: z.string().regex(/^[0-9a-f]{64,}$/, 'at least 64 hex digits').optional(),
        fallback: undefined,
        secret: true,
      },
      environment,
    ),
    corsOrigins: resolveOption(
      {
        variable: 'AIRLOCK_CORS_ORIGINS',
        schema: commaList.pipe(z.array(z.url({ protocol: /^https?$/, error: 'each origin is an http(s) URL such as https://app.example.com' }))),
        fallback: [],
      },
      environment,
    ),
    masterKeys: resolveOption(
      {
        variable: 'AIRLOCK_MASTER_KEY',
        secret: true,
        schema: z
          .string()
          .regex(/^[0-9a-f]{64}(,[0-9a-f]{64})*$/, '64 hex digits (32 bytes), or several such keys separated by commas, the current one first')
          .transform((keys) => keys.split(',').map((key) => Buffer.from(key, 'hex')))
          .optional(),
        fallback: undefined,
      },
      environment,
    ),
    webhooks: loadWebhookConfig(environment),
    clients: loadClientLimits(environment),
    oidc: undefined,
    sessions: {
      idleSeconds:
        60 * resolveOption({ variable: 'AIRLOCK_SESSION_IDLE_MINUTES', schema: z.coerce.number().int().min(1).max(10_080), fallback: 120 }, environment),
      maxSeconds: 3600 * resolveOption({ variable: 'AIRLOCK_SESSION_MAX_HOURS', schema: z.coerce.number().int().min(1).max(720), fallback: 24 }, environment),
    },
    ownerEmail: resolveOption({ variable: 'AIRLOCK_OWNER_EMAIL', schema: z.email().transform((email) => email.toLowerCase()), fallback: 'owner@airlock.local' }, environment),
    network: loadNetworkConfig(environment),
    webDns: resolveOption({ variable: 'AIRLOCK_WEB_DNS', schema: RESOLVERS, fallback: undefined }, environment),
    node: {
      id: resolveOption(
        { variable: 'AIRLOCK_NODE_ID', schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" and "-", at most 63').optional(), fallback: undefined },
        environment,
      ),
      url: resolveOption(
        { variable: 'AIRLOCK_NODE_URL', schema: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')).optional(), fallback: undefined },
        environment,
      ),
      heartbeatSeconds: resolveOption({ variable: 'AIRLOCK_HEARTBEAT_SECONDS', schema: z.coerce.number().int().min(1).max(60), fallback: 5 }, environment),
      drainSeconds: resolveOption({ variable: 'AIRLOCK_DRAIN_SECONDS', schema: z.coerce.number().int().min(0).max(3600), fallback: 30 }, environment),
    },
  };
  config.oidc = loadOidcConfig(environment, config.publicUrl);
  if (config.databaseOwnerUrl !== undefined && config.databaseUrl === undefined) {
    throw new ConfigError('AIRLOCK_DATABASE_OWNER_URL needs DATABASE_URL: the owner role migrates the PostgreSQL database the server uses');
  }
  return config;
}

function loadOidcConfig(environment: NodeJS.ProcessEnv, publicUrl: string | undefined): OidcConfig | undefined {
  const issuer = resolveOption({ variable: 'AIRLOCK_OIDC_ISSUER', schema: z.url().optional(), fallback: undefined }, environment);
  if (issuer === undefined) return undefined;
  const { protocol, hostname } = new URL(issuer);
  if (protocol !== 'https:' && !isLoopbackHost(hostname)) {
    throw new ConfigError(`AIRLOCK_OIDC_ISSUER=${JSON.stringify(issuer)} is invalid: an issuer must be https (plain http only on loopback, for tests)`);
  }
  const required = (variable: string, secret = false): string => {
    const value = resolveOption({ variable, schema: optionalText, fallback: undefined, secret }, environment);
    if (value === undefined) throw new ConfigError(`AIRLOCK_OIDC_ISSUER is set, so ${variable} must be too`);
    return value;
  };
  const redirectUrl =
    resolveOption({ variable: 'AIRLOCK_OIDC_REDIRECT_URL', schema: z.url().optional(), fallback: undefined }, environment) ??
    (publicUrl === undefined ? undefined : `${publicUrl}/auth/oidc/callback`);
  if (redirectUrl === undefined) {
    throw new ConfigError('AIRLOCK_OIDC_ISSUER is set: set AIRLOCK_OIDC_REDIRECT_URL (https://<this server>/auth/oidc/callback, as registered with the provider) or AIRLOCK_PUBLIC_URL');
  }
  const rules = (variable: string): RoleRule[] => {
    const raw = environment[variable] ?? '';
    try {
      return parseRoleRules(raw, 'default');
    } catch (error) {
      throw new ConfigError(`${variable} is invalid: ${(error as Error).message}`);
    }
  };
  return {
    issuer,
    clientId: required('AIRLOCK_OIDC_CLIENT_ID'),
    clientSecret: required('AIRLOCK_OIDC_CLIENT_SECRET', true),
    redirectUrl,
    scopes: resolveOption({ variable: 'AIRLOCK_OIDC_SCOPES', schema: text, fallback: 'openid email profile' }, environment),
    roleClaim: resolveOption({ variable: 'AIRLOCK_OIDC_ROLE_CLAIM', schema: text, fallback: 'groups' }, environment),
    claimRules: rules('AIRLOCK_OIDC_ROLES'),
    domainRules: rules('AIRLOCK_OIDC_EMAIL_DOMAINS'),
  };
}

function loadWebhookConfig(environment: NodeJS.ProcessEnv): WebhookConfig {
  return {
    allowLoopback:
      resolveOption({ variable: 'AIRLOCK_WEBHOOK_ALLOW_LOOPBACK', schema: z.enum(['true', 'false']), fallback: 'false' }, environment) === 'true',
    maxAttempts: resolveOption(
      { variable: 'AIRLOCK_WEBHOOK_MAX_ATTEMPTS', schema: z.coerce.number().int().min(1).max(50), fallback: 10 },
      environment,
    ),
    retryBaseSeconds: resolveOption(
      { variable: 'AIRLOCK_WEBHOOK_RETRY_SECONDS', schema: z.coerce.number().min(0.01).max(3600), fallback: 10 },
      environment,
    ),
    attemptTimeoutSeconds: resolveOption(
      { variable: 'AIRLOCK_WEBHOOK_TIMEOUT_SECONDS', schema: z.coerce.number().min(0.1).max(300), fallback: 10 },
      environment,
    ),
  };
}

function loadNetworkConfig(environment: NodeJS.ProcessEnv): NetworkConfig | undefined {
  const enabled = resolveOption({ variable: 'AIRLOCK_NETWORK', schema: z.enum(['on', 'off']), fallback: 'on' }, environment);
  if (enabled === 'off') return undefined;
  const octet = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
  return {
    subnet: resolveOption(
      {
        variable: 'AIRLOCK_NETWORK_SUBNET',
        schema: z.string().regex(new RegExp(`^${octet}\\.${octet}$`), 'the first two octets of a /16, such as 10.213'),
        fallback: '10.213',
      },
      environment,
    ),
    megabitsPerCpu: resolveOption(
      { variable: 'AIRLOCK_NETWORK_MBIT_PER_CPU', schema: z.coerce.number().int().min(1).max(100_000), fallback: 200 },
      environment,
    ),
    dnsUpstream: resolveOption(
      {
        variable: 'AIRLOCK_NETWORK_DNS',
        schema: RESOLVERS,
        fallback: undefined,
      },
      environment,
    ),
  };
}

function loadClientLimits(environment: NodeJS.ProcessEnv): ClientLimits {
  return {
    headersTimeoutSeconds: resolveOption(
      { variable: 'AIRLOCK_HEADERS_TIMEOUT_SECONDS', schema: z.coerce.number().min(0.1).max(600), fallback: 10 },
      environment,
    ),
    bodyTimeoutSeconds: resolveOption(
      { variable: 'AIRLOCK_BODY_TIMEOUT_SECONDS', schema: z.coerce.number().min(0.1).max(3600), fallback: 30 },
      environment,
    ),
    maxConnectionsPerAddress: resolveOption(
      { variable: 'AIRLOCK_MAX_CONNECTIONS_PER_ADDRESS', schema: z.coerce.number().int().min(0).max(1_000_000), fallback: 128 },
      environment,
    ),
  };
}

function loadS3Config(environment: NodeJS.ProcessEnv): S3Config | undefined {
  const option = (variable: string) => resolveOption({ variable, schema: optionalText, fallback: undefined }, environment);
  const bucket = option('AIRLOCK_S3_BUCKET');
  if (bucket === undefined) return undefined;
  const accessKeyId = option('AIRLOCK_S3_ACCESS_KEY_ID');
  const secretAccessKey = option('AIRLOCK_S3_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError('set both AIRLOCK_S3_ACCESS_KEY_ID and AIRLOCK_S3_SECRET_ACCESS_KEY, or neither');
  }
  const pathStyle = resolveOption(
    { variable: 'AIRLOCK_S3_FORCE_PATH_STYLE', schema: z.enum(['true', 'false']).optional(), fallback: undefined },
    environment,
  );
  return {
    bucket,
    prefix: option('AIRLOCK_S3_PREFIX') ?? '',
    endpoint: option('AIRLOCK_S3_ENDPOINT'),
    region: option('AIRLOCK_S3_REGION') ?? 'us-east-1',
    forcePathStyle: pathStyle === undefined ? undefined : pathStyle === 'true',
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
  };
}

/** /var/lib/airlock for root (the sandbox user must reach the images, and /root is private), else the XDG data home. */
function defaultDataDirectory(environment: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/var/lib/airlock';
  return environment.XDG_DATA_HOME ? join(environment.XDG_DATA_HOME, 'airlock') : join(homedir(), '.local', 'share', 'airlock');
}
