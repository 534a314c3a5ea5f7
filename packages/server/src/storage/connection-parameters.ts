import {
  CONNECTION_PARAMETER_FIELDS,
  CONNECTION_SECRET_FIELDS,
  type CreateStorageConnectionRequest,
  type StorageConnectionSettingsRequest,
  type StorageProvider,
  type SyncMode,
} from '@airlock/contracts';
import { ApiError } from '../shared/api-error.js';

/**
 * What reaching a bucket takes, per provider, in the API's names and shapes (those of @airlock/storage's rclone
 * remotes): the parameters and, opened, the secrets. An anonymous bucket (a public one, an emulator) has none.
 */
export type ConnectionParameters =
  | ({ provider: 's3'; bucket: string; endpoint?: string; region?: string; path_style: boolean } & (
      | { access_key_id: string; secret_access_key: string }
      | { anonymous: true }
    ))
  | ({ provider: 'gcs'; bucket: string; endpoint?: string } & (
      | { service_account_json: string }
      | { hmac: { access_key_id: string; secret: string } }
      | { anonymous: true }
    ))
  | ({ provider: 'azure'; container: string } & (
      | { account: string; key: string; endpoint?: string }
      | { sas_url: string }
      | { connection_string: string }
    ));

/** The secret fields of a connection, as sealed. */
export interface ConnectionCredentials {
  access_key_id?: string;
  secret_access_key?: string;
  service_account_json?: string;
  hmac?: { access_key_id: string; secret: string };
  key?: string;
  sas_url?: string;
  connection_string?: string;
}

/** A whole connection in the API's names, every field of its provider present (null or absent when unset). */
export type ConnectionDraft = ConnectionCredentials & {
  name: string;
  mount_name: string;
  prefix: string;
  read_only: boolean;
  sync_mode: SyncMode;
  endpoint: string | null;
} & (
    | { provider: 's3'; bucket: string; region: string | null; path_style: boolean; anonymous: boolean }
    | { provider: 'gcs'; bucket: string; anonymous: boolean }
    | { provider: 'azure'; container: string; account: string | null }
  );

type SecretField = keyof ConnectionCredentials;

/**
 * The ways each provider signs in, each a group of fields given together (an azure account goes with its key and
 * endpoint). Sending a field of one group in a change, or anonymous: true, replaces the stored fields of the others.
 */
const SIGN_IN_GROUPS: Record<StorageProvider, ReadonlyArray<readonly string[]>> = {
  s3: [['access_key_id', 'secret_access_key']],
  gcs: [['service_account_json'], ['hmac']],
  azure: [['account', 'key', 'endpoint'], ['sas_url'], ['connection_string']],
};
/** Fields a draft holds as null when unset. */
const NULLABLE_FIELDS = ['endpoint', 'region', 'account'];

const SETTING_FIELDS = ['name', 'mount_name', 'prefix', 'read_only', 'sync_mode'] as const;

/** The draft of a connection a create request asks for, with its defaults. */
export function draftOf(request: CreateStorageConnectionRequest): ConnectionDraft {
  const settings = {
    name: request.name,
    mount_name: request.mount_name,
    prefix: request.prefix ?? '',
    read_only: request.read_only ?? false,
    sync_mode: request.sync_mode ?? 'write_back',
  };
  switch (request.provider) {
    case 's3': {
      const { access_key_id, secret_access_key } = request;
      return {
        ...settings,
        provider: 's3',
        bucket: request.bucket,
        endpoint: request.endpoint ?? null,
        region: request.region ?? null,
        path_style: request.path_style ?? false,
        anonymous: request.anonymous ?? false,
        ...defined({ access_key_id, secret_access_key }),
      };
    }
    case 'gcs': {
      const { service_account_json, hmac } = request;
      return {
        ...settings,
        provider: 'gcs',
        bucket: request.bucket,
        endpoint: request.endpoint ?? null,
        anonymous: request.anonymous ?? false,
        ...defined({ service_account_json, hmac }),
      };
    }
    case 'azure': {
      const { key, sas_url, connection_string } = request;
      return {
        ...settings,
        provider: 'azure',
        container: request.container,
        endpoint: request.endpoint ?? null,
        account: request.account ?? null,
        ...defined({ key, sas_url, connection_string }),
      };
    }
  }
}

/**
 * The draft after a change: the fields sent replace the stored ones; a secret left out is kept, unless the change
 * signs in another way, or anonymously, or with credentials where it was anonymous (then the former way's fields go).
 * 400 for a field the connection's provider does not have.
 */
export function changedDraft(stored: ConnectionDraft, changes: StorageConnectionSettingsRequest): ConnectionDraft {
  const provider = stored.provider;
  const own: readonly string[] = [...SETTING_FIELDS, ...CONNECTION_PARAMETER_FIELDS[provider], ...CONNECTION_SECRET_FIELDS[provider]];
  const sent = Object.entries(changes).filter(([, value]) => value !== undefined);
  const foreign = sent.find(([field]) => !own.includes(field));
  if (foreign) {
    const fields = [...CONNECTION_PARAMETER_FIELDS[provider], ...CONNECTION_SECRET_FIELDS[provider]].join(', ');
    throw ApiError.validation(`${foreign[0]}: a connection to ${provider} has no ${foreign[0]} (its fields: ${fields}); the provider cannot change`);
  }
  const draft: Record<string, unknown> = { ...stored };
  const sentFields = sent.map(([field]) => field);
  const groups = SIGN_IN_GROUPS[provider];
  const signingIn = sent.filter(([, value]) => value !== null).map(([field]) => field);
  const chosen = groups.filter((group) => group.some((field) => signingIn.includes(field)));
  if (chosen.length > 0 || changes.anonymous === true) {
    for (const group of groups) {
      if (chosen.includes(group)) continue;
      for (const field of group) if (!sentFields.includes(field)) delete draft[field];
    }
  }
  if (chosen.length > 0 && 'anonymous' in stored) draft.anonymous = false;
  for (const [field, value] of sent) draft[field] = value;
  for (const field of NULLABLE_FIELDS) if (field in stored && draft[field] === undefined) draft[field] = null;
  return draft as unknown as ConnectionDraft;
}

/** 400 naming the field when the draft cannot sign in as its provider needs; each secret is checked, never repeated. */
export function checkSignIn(draft: ConnectionDraft): void {
  const problem = signInProblem(draft);
  if (problem) throw ApiError.validation(problem);
}

function signInProblem(draft: ConnectionDraft): string | undefined {
  switch (draft.provider) {
    case 's3': {
      const keys = ['access_key_id', 'secret_access_key'] as const;
      if (draft.anonymous) return anonymousProblem(draft, keys);
      const missing = keys.find((field) => draft[field] === undefined);
      return (
        missing &&
        `${missing}: a connection to s3 needs access_key_id and secret_access_key (or anonymous: true for a public bucket)`
      );
    }
    case 'gcs': {
      if (draft.anonymous) return anonymousProblem(draft, ['service_account_json', 'hmac']);
      if (draft.service_account_json !== undefined && draft.hmac !== undefined) {
        return 'hmac: a connection to gcs signs in with service_account_json or with hmac, not both';
      }
      if (draft.service_account_json !== undefined) {
        return serviceAccountEmail(draft.service_account_json) === undefined
          ? 'service_account_json: not a service account key file (a JSON object with "type": "service_account", ' +
              'client_email and private_key)'
          : undefined;
      }
      return draft.hmac === undefined
        ? 'service_account_json: a connection to gcs needs service_account_json or hmac (or anonymous: true for a public bucket)'
        : undefined;
    }
    case 'azure': {
      const ways = [draft.key, draft.sas_url, draft.connection_string].filter((value) => value !== undefined).length;
      if (ways > 1) return 'key: a connection to azure signs in with one of account and key, sas_url or connection_string';
      if (draft.key !== undefined && draft.account === null) return 'account: an account key needs its account';
      if (draft.key === undefined && draft.account !== null) {
        return ways === 0 ? 'key: the account needs its key' : 'account: goes with key; sas_url and connection_string name the account themselves';
      }
      if (ways === 0) return 'key: a connection to azure needs account and key, sas_url or connection_string';
      if (draft.key === undefined && draft.endpoint !== null) {
        return 'endpoint: goes with account and key; sas_url and connection_string carry their own URL';
      }
      if (draft.sas_url !== undefined && !isHttpUrl(draft.sas_url)) return 'sas_url: must be an http(s) URL';
      return undefined;
    }
  }
}

function anonymousProblem(draft: ConnectionCredentials, fields: ReadonlyArray<keyof ConnectionCredentials>): string | undefined {
  const given = fields.find((field) => draft[field] !== undefined);
  return given && `${given}: an anonymous connection signs in with no credentials; leave them out, or send anonymous: false`;
}

/** What reaching the bucket of a draft takes (checked by checkSignIn): its parameters and secrets, in their shapes. */
export function parametersOf(draft: ConnectionDraft): ConnectionParameters {
  const endpoint = draft.endpoint === null ? {} : { endpoint: draft.endpoint };
  const credentials = credentialsOf(draft);
  switch (draft.provider) {
    case 's3':
      return {
        provider: 's3',
        bucket: draft.bucket,
        ...endpoint,
        ...(draft.region === null ? {} : { region: draft.region }),
        path_style: draft.path_style,
        ...(draft.anonymous ? { anonymous: true } : (credentials as { access_key_id: string; secret_access_key: string })),
      };
    case 'gcs':
      return {
        provider: 'gcs',
        bucket: draft.bucket,
        ...endpoint,
        ...(draft.anonymous ? { anonymous: true } : (credentials as { service_account_json: string })),
      };
    case 'azure':
      return {
        provider: 'azure',
        container: draft.container,
        ...(draft.account === null ? (credentials as { sas_url: string }) : { account: draft.account, key: draft.key ?? '', ...endpoint }),
      };
  }
}

/** The secret fields of a draft. */
export function credentialsOf(draft: ConnectionDraft): ConnectionCredentials {
  const all = draft as Partial<Record<SecretField, unknown>>;
  const credentials: Record<string, unknown> = {};
  for (const field of CONNECTION_SECRET_FIELDS[draft.provider]) if (all[field] !== undefined) credentials[field] = all[field];
  return credentials as ConnectionCredentials;
}

/**
 * What answers show of each secret: a service account's client_email, otherwise "****" and the last 4 characters of a
 * secret of 12 or more (a shorter one shows "****" only). hmac's two fields are `hmac.access_key_id`, `hmac.secret`.
 */
export function credentialHints(credentials: ConnectionCredentials): Record<string, string> {
  const hints: Record<string, string> = {};
  for (const [field, value] of Object.entries(credentials) as Array<[SecretField, unknown]>) {
    if (field === 'service_account_json') hints[field] = serviceAccountEmail(value as string) ?? '****';
    else if (field === 'hmac') {
      const hmac = value as { access_key_id: string; secret: string };
      hints['hmac.access_key_id'] = masked(hmac.access_key_id);
      hints['hmac.secret'] = masked(hmac.secret);
    } else hints[field] = masked(value as string);
  }
  return hints;
}

function masked(secret: string): string {
  return secret.length >= 12 ? `****${secret.slice(-4)}` : '****';
}

/** The client_email of a service account key file, or undefined when the text is not one. */
function serviceAccountEmail(json: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const file = parsed as { type?: unknown; client_email?: unknown; private_key?: unknown } | null;
  if (typeof file !== 'object' || file === null || file.type !== 'service_account') return undefined;
  if (typeof file.private_key !== 'string' || typeof file.client_email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(file.client_email)) {
    return undefined;
  }
  return file.client_email;
}

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/** The entries of `fields` that are not undefined. */
function defined<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}
