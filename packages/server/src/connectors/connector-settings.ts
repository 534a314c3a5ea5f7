import { CONNECTOR_SCHEMAS, CONNECTOR_SECRET_FIELDS, ConnectorUrl, type ConnectorSettings } from '@airlock/contracts';
import { validationError } from '../http/errors.js';
import { ApiError } from '../shared/api-error.js';
import { azureBlobEndpoint } from './tool-formats.js';

/** A connector's settings as stored: those that are not secrets in the clear, the secrets to seal. */
export interface SplitSettings {
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** The rules one field's schema cannot state; 400 naming the fields. */
export function checkSettings(settings: ConnectorSettings): ConnectorSettings {
  if (settings.type === 'azure') {
    const principal = [settings.tenant_id, settings.client_id, settings.client_secret].filter((value) => value !== undefined).length;
    if (principal !== 0 && principal !== 3) throw ApiError.validation('tenant_id, client_id, client_secret: a service principal needs all three');
    const ways = [settings.key, settings.sas_token, settings.connection_string, settings.client_secret].filter((value) => value !== undefined).length;
    if (ways === 0) throw ApiError.validation('an azure connector signs in with key, sas_token, connection_string or a service principal (tenant_id, client_id, client_secret)');
    if (settings.key !== undefined && settings.account === undefined) throw ApiError.validation('account: an account key needs its account');
    if (settings.sas_token !== undefined && settings.account === undefined && settings.endpoint === undefined) {
      throw ApiError.validation('account: a SAS token needs the account or the endpoint');
    }
    if (settings.connection_string !== undefined && settings.endpoint === undefined) {
      const endpoint = azureBlobEndpoint(settings);
      // The connection string is a secret: the messages never quote it.
      if (endpoint === undefined) throw ApiError.validation('connection_string: names no blob endpoint (BlobEndpoint=, or AccountName=); add one or set endpoint');
      if (!ConnectorUrl.safeParse(endpoint).success) {
        throw ApiError.validation(
          'connection_string: its blob endpoint (BlobEndpoint, or AccountName and EndpointSuffix) must be an http(s) URL whose host is a DNS name or an IPv4 address, not loopback or link-local; or set endpoint',
        );
      }
    }
  }
  if (settings.type === 's3' && settings.endpoint === undefined && !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(settings.region)) {
    throw ApiError.validation('region: names the endpoint s3.<region>.amazonaws.com, so lowercase letters, digits and "-" (e.g. eu-west-1); or set endpoint');
  }
  if ((settings.type === 'gcs' || settings.type === 'bigquery') && settings.credentials_json !== undefined) {
    const kind = googleCredentialsType(settings.credentials_json);
    if (kind !== 'service_account' && kind !== 'authorized_user') {
      throw ApiError.validation('credentials_json: a service account key file or an authorized user file (JSON with "type" service_account or authorized_user)');
    }
  }
  if (settings.type === 'http_api' && settings.base_url_env_var === settings.env_var) {
    throw ApiError.validation('base_url_env_var: must differ from env_var');
  }
  return settings;
}

export function splitSettings(settings: ConnectorSettings): SplitSettings {
  const secretFields = CONNECTOR_SECRET_FIELDS[settings.type];
  const split: SplitSettings = { settings: {}, secrets: {} };
  for (const [field, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (secretFields.includes(field)) split.secrets[field] = value as string;
    else split.settings[field] = value;
  }
  return split;
}

/** Stored settings and opened secrets, as one whole. */
export function joinSettings(settings: Record<string, unknown>, secrets: Record<string, string>): ConnectorSettings {
  return { ...settings, ...secrets } as ConnectorSettings;
}

/**
 * The settings after a change: the fields sent replace the stored ones, null removes an optional one, a secret left
 * out is kept; the result is checked whole, as at creation (400 naming the field).
 */
export function changedSettings(stored: ConnectorSettings, changes: Record<string, unknown>): ConnectorSettings {
  for (const field of ['type', 'name']) {
    if (field in changes) throw ApiError.validation(`${field}: a connector's ${field} never changes; create another connector`);
  }
  const draft: Record<string, unknown> = { ...stored };
  for (const [field, value] of Object.entries(changes)) {
    if (value === null) delete draft[field];
    else draft[field] = value;
  }
  const parsed = CONNECTOR_SCHEMAS[stored.type].safeParse(draft);
  if (!parsed.success) throw validationError(parsed.error);
  return checkSettings(parsed.data);
}

/** What answers show of each secret: its last four characters when it is long, a service account's email. */
export function secretHints(secrets: Record<string, string>): Record<string, string> {
  const hints: Record<string, string> = {};
  for (const [field, value] of Object.entries(secrets)) {
    // By code point, so the last four never split a character written as two UTF-16 units.
    const characters = Array.from(value);
    hints[field] = field === 'credentials_json' ? (googleIdentity(value) ?? '****') : characters.length >= 16 ? `****${characters.slice(-4).join('')}` : '****';
  }
  return hints;
}

function googleCredentialsType(json: string): unknown {
  try {
    return (JSON.parse(json) as { type?: unknown } | null)?.type;
  } catch {
    return undefined;
  }
}

/** The client_email of a service account file, or "authorized user" for a user's file. */
function googleIdentity(json: string): string | undefined {
  try {
    const parsed = JSON.parse(json) as { type?: unknown; client_email?: unknown };
    if (typeof parsed.client_email === 'string') return parsed.client_email;
    return parsed.type === 'authorized_user' ? 'authorized user' : undefined;
  } catch {
    return undefined;
  }
}
