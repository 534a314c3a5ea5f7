import type { ConnectorSettings } from '@airlock/contracts';

/** The file formats and strings the tools of each connector type read, built from the connectors' settings. */

/** Where a call's connectors are written: the sandbox's own /run, a tmpfs that ends with the sandbox. */
export const CONNECTORS_ROOT = '/run/airlock/connectors';

/** A connector of a call, its secrets opened. */
export interface OpenedConnector {
  name: string;
  settings: ConnectorSettings;
}

/** libpq's service file: a section per PostgreSQL connector of the call, named as the connector (`psql service=NAME`). */
export function postgresServices(all: readonly OpenedConnector[]): string {
  return all
    .flatMap(({ name, settings }) => {
      if (settings.type !== 'postgresql') return [];
      const directory = `${CONNECTORS_ROOT}/${name}`;
      return [
        `[${name}]`,
        `host=${settings.host}`,
        `port=${settings.port}`,
        `dbname=${settings.database}`,
        `user=${settings.user}`,
        `sslmode=${settings.sslmode}`,
        `passfile=${directory}/pgpass`,
        ...(settings.ca_certificate === undefined ? [] : [`sslrootcert=${directory}/root.crt`]),
        '',
      ];
    })
    .join('\n');
}

/** The shared AWS credentials or config file: a profile per S3 connector of the call, named as the connector. */
export function awsFile(all: readonly OpenedConnector[], kind: 'credentials' | 'config'): string {
  return all
    .flatMap(({ name, settings }) => {
      if (settings.type !== 's3') return [];
      if (kind === 'credentials') {
        return [
          `[${name}]`,
          `aws_access_key_id = ${settings.access_key_id}`,
          `aws_secret_access_key = ${settings.secret_access_key}`,
          ...(settings.session_token === undefined ? [] : [`aws_session_token = ${settings.session_token}`]),
          '',
        ];
      }
      return [
        `[profile ${name}]`,
        `region = ${settings.region}`,
        ...(settings.endpoint === undefined ? [] : [`endpoint_url = ${settings.endpoint}`]),
        ...(settings.path_style ? ['s3 =', '    addressing_style = path'] : []),
        '',
      ];
    })
    .join('\n');
}

/** A field of a pgpass line: `\` and `:` escaped with `\`. */
export function pgpassField(value: string): string {
  return value.replace(/[\\:]/g, (character) => `\\${character}`);
}

/** A value of a MySQL option file, double-quoted with `\` and `"` escaped. */
export function optionValue(value: string): string {
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}

export function urlEndpoint(value: string): { host: string; port: number } {
  const url = new URL(value);
  return { host: url.hostname, port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) };
}

export type AzureSettings = Extract<ConnectorSettings, { type: 'azure' }>;

/** The blob endpoint: the endpoint setting, a connection string's BlobEndpoint or AccountName, or the account's. */
export function azureBlobEndpoint(settings: AzureSettings): string | undefined {
  if (settings.endpoint !== undefined) return settings.endpoint;
  if (settings.connection_string !== undefined) {
    const fields = new Map(
      settings.connection_string
        .split(';')
        .filter((part) => part.includes('='))
        .map((part) => [part.slice(0, part.indexOf('=')).toLowerCase(), part.slice(part.indexOf('=') + 1)] as const),
    );
    const blobEndpoint = fields.get('blobendpoint');
    if (blobEndpoint) return blobEndpoint;
    const account = fields.get('accountname');
    if (account) return `https://${account}.blob.${fields.get('endpointsuffix') ?? 'core.windows.net'}`;
    return undefined;
  }
  return settings.account === undefined ? undefined : `https://${settings.account}.blob.core.windows.net`;
}

/** A connection string for an account key or SAS token, so one variable serves every Azure SDK. */
export function azureConnectionString(settings: AzureSettings, endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  const protocol = new URL(endpoint).protocol.replace(':', '');
  if (settings.key !== undefined && settings.account !== undefined) {
    return `DefaultEndpointsProtocol=${protocol};AccountName=${settings.account};AccountKey=${settings.key};BlobEndpoint=${endpoint};`;
  }
  if (settings.sas_token !== undefined) return `BlobEndpoint=${endpoint};SharedAccessSignature=${settings.sas_token.replace(/^\?/, '')};`;
  return undefined;
}

/** The project of an ADC file: a service account's project_id or an authorized user's quota_project_id. */
export function googleProject(credentials: string): string | undefined {
  const parsed = parseObject(credentials);
  const project = parsed?.project_id ?? parsed?.quota_project_id;
  return typeof project === 'string' ? project : undefined;
}

/**
 * The secrets inside an ADC file, besides the file itself: its private key (and the key's base64 lines, so printing a
 * part of it is caught), client secret and refresh token.
 */
export function googleSecrets(credentials: string): string[] {
  const parsed = parseObject(credentials);
  const values = ['private_key', 'client_secret', 'refresh_token'].flatMap((field) => {
    const value = parsed?.[field];
    return typeof value === 'string' && value.length > 0 ? [value] : [];
  });
  const keyLines = values.flatMap((value) => (value.includes('-----BEGIN') ? value.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----')) : []));
  return [credentials, ...values, ...keyLines];
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
