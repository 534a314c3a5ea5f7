import type { ConnectorType, NetworkPolicy } from '@airlock/contracts';
import { ApiError } from '../shared/api-error.js';
import {
  CONNECTORS_ROOT,
  type OpenedConnector,
  awsFile,
  azureConnectionString,
  azureBlobEndpoint,
  googleProject,
  googleSecrets,
  optionValue,
  pgpassField,
  postgresServices,
  urlEndpoint,
} from './tool-formats.js';

export { CONNECTORS_ROOT, type OpenedConnector } from './tool-formats.js';

/** A host (a name, a `*.` wildcard of names, or an IPv4 address) and TCP port a connector's calls may reach. */
export interface ConnectorEndpoint {
  connector: string;
  host: string;
  port: number;
}

/** What a call's connectors put into its sandbox. */
export interface ConnectorInjection {
  /** Files below CONNECTORS_ROOT, mode 0600 in directories of mode 0700, owned by the sandbox user. */
  files: Array<{ path: string; content: string }>;
  /** Variables of the call's environment: pointers to the files, and the values tools read only from there. */
  env: Record<string, string>;
  /** Which connector set each variable, for error messages. */
  variableOwners: Record<string, string>;
  endpoints: ConnectorEndpoint[];
  /** Every secret value; the output redactor hides them and their encoded forms. */
  secrets: string[];
}

/**
 * Types whose variables would collide (two PostgreSQL connectors both setting PGHOST): in a call, the first connector
 * of a family by name sets them; the others are reached through their own files (and, for PostgreSQL and S3, by
 * name through the shared service file and profiles).
 */
const FAMILY: Record<ConnectorType, string> = {
  postgresql: 'postgresql',
  mysql: 'mysql',
  redis: 'redis',
  mongodb: 'mongodb',
  s3: 'aws',
  gcs: 'google',
  bigquery: 'google',
  azure: 'azure',
  github: 'github',
  http_api: 'http_api',
};

/** The files, variables, endpoints and secrets of a call's connectors (sorted by name: the first of a family leads). */
export function connectorInjection(connectors: readonly OpenedConnector[]): ConnectorInjection {
  const injection: ConnectorInjection = { files: [], env: {}, variableOwners: {}, endpoints: [], secrets: [] };
  const leading = new Set<string>();
  const sorted = [...connectors].sort((a, b) => a.name.localeCompare(b.name));
  for (const connector of sorted) {
    const family = FAMILY[connector.settings.type];
    const leads = !leading.has(family) || family === 'http_api';
    leading.add(family);
    const parts = injectionOf(connector, sorted);
    for (const file of parts.files) {
      if (!injection.files.some((existing) => existing.path === file.path)) injection.files.push(file);
    }
    for (const [name, value] of Object.entries(leads ? parts.env : {})) {
      if (name in injection.env) continue;
      injection.env[name] = value;
      injection.variableOwners[name] = connector.name;
    }
    injection.endpoints.push(...parts.endpoints.map((endpoint) => ({ connector: connector.name, ...endpoint })));
    injection.secrets.push(...parts.secrets);
  }
  return injection;
}

interface Parts {
  files: Array<{ path: string; content: string }>;
  env: Record<string, string>;
  endpoints: Array<{ host: string; port: number }>;
  secrets: string[];
}

/** The variables a connector sets when it leads its family, for the connector list (values left out). */
export function connectorVariables(connector: OpenedConnector): string[] {
  return Object.keys(injectionOf(connector, [connector]).env);
}

/**
 * The variables two connectors would both set in a call where neither leads the other's family (connectors of one
 * family share variables by design: the first by name sets them); empty when they can be attached together.
 */
export function clashingVariables(a: OpenedConnector, b: OpenedConnector): string[] {
  const family = FAMILY[a.settings.type];
  if (family === FAMILY[b.settings.type] && family !== 'http_api') return [];
  const theirs = new Set(connectorVariables(b));
  return connectorVariables(a).filter((variable) => theirs.has(variable));
}

/** The endpoints a connector opens, as `host:port`. */
export function connectorEndpoints(connector: OpenedConnector): string[] {
  return injectionOf(connector, [connector]).endpoints.map(({ host, port }) => `${host}:${port}`);
}

function injectionOf(connector: OpenedConnector, all: readonly OpenedConnector[]): Parts {
  const directory = `${CONNECTORS_ROOT}/${connector.name}`;
  const { settings } = connector;
  switch (settings.type) {
    case 'postgresql': {
      const passfile = `${directory}/pgpass`;
      const rootCertificate = settings.ca_certificate === undefined ? undefined : `${directory}/root.crt`;
      const serviceFile = `${CONNECTORS_ROOT}/pg_service.conf`;
      return {
        files: [
          { path: passfile, content: `${[settings.host, String(settings.port), settings.database, settings.user, settings.password].map(pgpassField).join(':')}\n` },
          ...(rootCertificate ? [{ path: rootCertificate, content: settings.ca_certificate as string }] : []),
          { path: serviceFile, content: postgresServices(all) },
        ],
        env: {
          PGHOST: settings.host,
          PGPORT: String(settings.port),
          PGDATABASE: settings.database,
          PGUSER: settings.user,
          PGSSLMODE: settings.sslmode,
          PGPASSFILE: passfile,
          PGSERVICEFILE: serviceFile,
          ...(rootCertificate && { PGSSLROOTCERT: rootCertificate }),
        },
        endpoints: [{ host: settings.host, port: settings.port }],
        secrets: [settings.password],
      };
    }
    case 'mysql': {
      const caFile = settings.ca_certificate === undefined ? undefined : `${directory}/ca.pem`;
      const client = [
        '[client]',
        `host=${settings.host}`,
        `port=${settings.port}`,
        `user=${optionValue(settings.user)}`,
        `password=${optionValue(settings.password)}`,
        ...(caFile ? [`ssl-ca=${caFile}`] : []),
        ...(settings.tls ? [] : ['skip-ssl']),
        ...(settings.database === undefined ? [] : ['[mysql]', `database=${optionValue(settings.database)}`]),
      ];
      return {
        files: [{ path: `${directory}/my.cnf`, content: `${client.join('\n')}\n` }, ...(caFile ? [{ path: caFile, content: settings.ca_certificate as string }] : [])],
        // The MariaDB and MySQL clients read $MYSQL_HOME/my.cnf; other programs take the file with --defaults-extra-file.
        env: { MYSQL_HOME: directory, MYSQL_HOST: settings.host, MYSQL_TCP_PORT: String(settings.port) },
        endpoints: [{ host: settings.host, port: settings.port }],
        secrets: [settings.password],
      };
    }
    case 'redis': {
      const scheme = settings.tls ? 'rediss' : 'redis';
      const user = settings.username === undefined ? '' : `${encodeURIComponent(settings.username)}@`;
      return {
        files: settings.password === undefined ? [] : [{ path: `${directory}/password`, content: settings.password }],
        env: {
          REDIS_HOST: settings.host,
          REDIS_PORT: String(settings.port),
          REDIS_URL: `${scheme}://${user}${settings.host}:${settings.port}/${settings.database}`,
          // redis-cli reads the password only from its command line or this variable.
          ...(settings.password !== undefined && { REDISCLI_AUTH: settings.password }),
        },
        endpoints: [{ host: settings.host, port: settings.port }],
        secrets: settings.password === undefined ? [] : [settings.password],
      };
    }
    case 'mongodb': {
      const query = new URLSearchParams({ authSource: settings.auth_source, ...(settings.tls && { tls: 'true' }) });
      const uri = `mongodb://${encodeURIComponent(settings.user)}:${encodeURIComponent(settings.password)}@${settings.host}:${settings.port}/${encodeURIComponent(settings.database)}?${query}`;
      return {
        files: [{ path: `${directory}/uri`, content: uri }],
        // The URI carries the password: drivers take no separate password file (docs/connectors.md).
        env: { MONGODB_URI: uri },
        endpoints: [{ host: settings.host, port: settings.port }],
        secrets: [settings.password],
      };
    }
    case 's3': {
      const credentialsFile = `${CONNECTORS_ROOT}/aws/credentials`;
      const configFile = `${CONNECTORS_ROOT}/aws/config`;
      return {
        files: [
          { path: credentialsFile, content: awsFile(all, 'credentials') },
          { path: configFile, content: awsFile(all, 'config') },
        ],
        env: { AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile, AWS_PROFILE: connector.name },
        endpoints: settings.endpoint
          ? [urlEndpoint(settings.endpoint)]
          : [
              { host: `s3.${settings.region}.amazonaws.com`, port: 443 },
              { host: `*.s3.${settings.region}.amazonaws.com`, port: 443 },
            ],
        secrets: [settings.access_key_id, settings.secret_access_key, ...(settings.session_token === undefined ? [] : [settings.session_token])],
      };
    }
    case 'gcs':
    case 'bigquery': {
      const credentialsFile = `${directory}/credentials.json`;
      const credentials = settings.credentials_json;
      const project = settings.project ?? (credentials === undefined ? undefined : googleProject(credentials));
      const endpoint = settings.type === 'gcs' ? settings.endpoint : undefined;
      const service = settings.type === 'gcs' ? 'storage.googleapis.com' : 'bigquery.googleapis.com';
      return {
        files: credentials === undefined ? [] : [{ path: credentialsFile, content: credentials }],
        env: {
          ...(credentials !== undefined && { GOOGLE_APPLICATION_CREDENTIALS: credentialsFile }),
          ...(project !== undefined && { GOOGLE_CLOUD_PROJECT: project }),
          // The client appends /storage/v1 itself: the emulator's origin, whatever path the endpoint was given with.
          ...(endpoint !== undefined && { STORAGE_EMULATOR_HOST: new URL(endpoint).origin }),
        },
        endpoints: endpoint
          ? [urlEndpoint(endpoint)]
          : [
              { host: service, port: 443 },
              { host: 'oauth2.googleapis.com', port: 443 },
            ],
        secrets: credentials === undefined ? [] : googleSecrets(credentials),
      };
    }
    case 'azure': {
      const endpoint = azureBlobEndpoint(settings);
      const connectionString = settings.connection_string ?? azureConnectionString(settings, endpoint);
      const servicePrincipal = settings.client_secret !== undefined;
      return {
        files: connectionString === undefined ? [] : [{ path: `${directory}/connection_string`, content: connectionString }],
        env: {
          ...(settings.account !== undefined && { AZURE_STORAGE_ACCOUNT: settings.account }),
          ...(settings.key !== undefined && { AZURE_STORAGE_KEY: settings.key }),
          ...(settings.sas_token !== undefined && { AZURE_STORAGE_SAS_TOKEN: settings.sas_token }),
          ...(connectionString !== undefined && { AZURE_STORAGE_CONNECTION_STRING: connectionString }),
          ...(endpoint !== undefined && { AZURE_STORAGE_BLOB_ENDPOINT: endpoint }),
          ...(servicePrincipal && {
            AZURE_TENANT_ID: settings.tenant_id as string,
            AZURE_CLIENT_ID: settings.client_id as string,
            AZURE_CLIENT_SECRET: settings.client_secret as string,
          }),
        },
        endpoints: [
          ...(endpoint === undefined ? [] : [urlEndpoint(endpoint)]),
          ...(servicePrincipal ? [{ host: 'login.microsoftonline.com', port: 443 }] : []),
        ],
        secrets: [settings.key, settings.sas_token, settings.connection_string, settings.client_secret].filter((value) => value !== undefined),
      };
    }
    case 'github': {
      const apiHost = settings.api_host ?? (settings.host === 'github.com' ? 'api.github.com' : settings.host);
      const caFile = settings.ca_certificate === undefined ? undefined : `${directory}/ca.pem`;
      const gitconfig = [
        // The home's own configuration still applies; this file adds the token to the host's URLs.
        '[include]',
        '\tpath = ~/.gitconfig',
        `[url "https://x-access-token:${encodeURIComponent(settings.token)}@${settings.host}/"]`,
        `\tinsteadOf = https://${settings.host}/`,
        ...(caFile ? [`[http "https://${settings.host}/"]`, `\tsslCAInfo = ${caFile}`] : []),
      ];
      return {
        files: [{ path: `${directory}/gitconfig`, content: `${gitconfig.join('\n')}\n` }, ...(caFile ? [{ path: caFile, content: settings.ca_certificate as string }] : [])],
        env: {
          GIT_CONFIG_GLOBAL: `${directory}/gitconfig`,
          ...(settings.host === 'github.com' ? { GH_TOKEN: settings.token } : { GH_HOST: settings.host, GH_ENTERPRISE_TOKEN: settings.token }),
        },
        endpoints: [...new Set([settings.host, apiHost])].map((host) => ({ host, port: 443 })),
        secrets: [settings.token],
      };
    }
    case 'http_api':
      return {
        files: [{ path: `${directory}/api_key`, content: settings.api_key }],
        env: { [settings.env_var]: settings.api_key, ...(settings.base_url_env_var !== undefined && { [settings.base_url_env_var]: settings.base_url }) },
        endpoints: [urlEndpoint(settings.base_url)],
        secrets: [settings.api_key],
      };
  }
}

/**
 * The call's environment with its connectors' variables. A variable a connector sets may not be set otherwise (400
 * naming both): the tools would read the other value where the connector means its own.
 */
export function withConnectorVariables(env: Record<string, string>, injection: ConnectorInjection): Record<string, string> {
  for (const name of Object.keys(injection.env)) {
    if (Object.hasOwn(env, name)) {
      throw ApiError.validation(
        `env_vars: ${name} is set by connector "${injection.variableOwners[name]}" of this API key's sandbox config; remove it from env_vars (request, API key or sandbox config)`,
      );
    }
  }
  return { ...env, ...injection.env };
}

/**
 * The network of the call's sandbox: its mode, except that a blocked call with connectors takes an allowlist slot
 * (one that reaches nothing until told), whose connectors' endpoints are then opened.
 */
export function connectorSlotNetwork(network: NetworkPolicy, injection: ConnectorInjection): NetworkPolicy {
  return network.mode === 'blocked' && injection.endpoints.length > 0 ? { mode: 'allowlist', allow: [] } : network;
}
