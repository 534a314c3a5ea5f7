/**
 * Storage connections (a customer's own bucket) as rclone remotes defined on the fly: rclone reads
 * `RCLONE_CONFIG_<NAME>_TYPE` and `RCLONE_CONFIG_<NAME>_<OPTION>` from its environment as the remote `<name>:`, so
 * the credentials reach only the rclone process and no configuration file is ever written.
 */

/**
 * Static keys, no credentials at all (a public bucket, an emulator), or the AWS default chain of the host (its
 * environment, instance role...; for the server's own bucket only).
 */
export type S3Credentials = { access_key_id: string; secret_access_key: string } | { anonymous: true } | { env_auth: true };

/** A bucket on AWS S3 or on any S3-compatible service. */
export type S3Connection = {
  provider: 's3';
  bucket: string;
  /** The service's URL (`https://minio.example.com:9000`); AWS S3 when absent. */
  endpoint?: string;
  /** The bucket's region; rclone signs for us-east-1 when absent. */
  region?: string;
  /**
   * Path-style requests (`<endpoint>/<bucket>/<key>`) rather than virtual-hosted ones (`<bucket>.<endpoint>/<key>`);
   * most S3-compatible services and emulators need them.
   */
  path_style: boolean;
} & S3Credentials;

export interface GcsHmacKey {
  access_key_id: string;
  secret: string;
}

/**
 * A service account's JSON key (the JSON API), an HMAC key (GCS's S3-compatible XML API, through rclone's s3 backend),
 * or no credentials at all (public buckets and emulators).
 */
export type GcsCredentials = { service_account_json: string } | { hmac: GcsHmacKey } | { anonymous: true };

/** A Google Cloud Storage bucket. */
export type GcsConnection = {
  provider: 'gcs';
  bucket: string;
  /**
   * The API's URL, Google's when absent. For the JSON API it includes the API's path (fake-gcs-server:
   * `http://127.0.0.1:4443/storage/v1/`); with an HMAC key it is the XML API's (`https://storage.googleapis.com`).
   */
  endpoint?: string;
} & GcsCredentials;

/**
 * An account and its key (with the blob service's URL for an emulator: Azurite's is
 * `http://127.0.0.1:10000/devstoreaccount1`), a SAS URL, or a connection string; the last two carry their own URL.
 */
export type AzureCredentials = { account: string; key: string; endpoint?: string } | { sas_url: string } | { connection_string: string };

/** An Azure Blob Storage container. */
export type AzureConnection = { provider: 'azure'; container: string } & AzureCredentials;

export type StorageConnection = S3Connection | GcsConnection | AzureConnection;
export type StorageProvider = StorageConnection['provider'];

/** A connection as an rclone remote. */
export interface RcloneRemote {
  /** `<name>:` in rclone paths. */
  name: string;
  /** The connection's bucket or container. */
  bucket: string;
  /**
   * The variables defining the remote, and `RCLONE_CONFIG=/dev/null` (rclone keeps its configuration in memory and
   * reads no file). They hold the credentials: hand them to the rclone process only.
   */
  environment: Record<string, string>;
}

/** rclone looks a remote's variables up by its upper-cased name, so the name is one a variable name can carry. */
const REMOTE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

const GCS_XML_API = 'https://storage.googleapis.com';

/**
 * The rclone remote `<name>:` for a connection. Every remote skips rclone's bucket check and creation
 * (`no_check_bucket`, `no_check_container`): a connection names a bucket that exists, and credentials limited to
 * objects would fail the check.
 */
export function rcloneRemote(name: string, connection: StorageConnection): RcloneRemote {
  if (!REMOTE_NAME.test(name)) {
    throw new Error(`rclone remote name "${name}" must be a lowercase letter then up to 62 lowercase letters, digits or underscores`);
  }
  const options = backendOptions(connection);
  const prefix = `RCLONE_CONFIG_${name.toUpperCase()}_`;
  const environment: Record<string, string> = { RCLONE_CONFIG: '/dev/null' };
  for (const [option, value] of Object.entries(options)) environment[prefix + option.toUpperCase()] = value;
  return { name, bucket: connection.provider === 'azure' ? connection.container : connection.bucket, environment };
}

/** `<remote>:<bucket>/<prefix>`, for a prefix already checked by the path rules (leading and trailing slashes dropped). */
export function rcloneRemotePath(remote: RcloneRemote, prefix = ''): string {
  const inside = prefix.replace(/^\/+|\/+$/g, '');
  return `${remote.name}:${remote.bucket}${inside === '' ? '' : `/${inside}`}`;
}

/** rclone's options (`type` and the backend's own, by their configuration names) for a connection. */
function backendOptions(connection: StorageConnection): Record<string, string> {
  switch (connection.provider) {
    case 's3':
      return {
        type: 's3',
        provider: connection.endpoint === undefined ? 'AWS' : 'Other',
        ...s3Credentials(connection),
        force_path_style: String(connection.path_style),
        no_check_bucket: 'true',
        ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
        ...(connection.region === undefined ? {} : { region: connection.region }),
      };
    case 'gcs':
      return gcsOptions(connection);
    case 'azure':
      return { type: 'azureblob', no_check_container: 'true', ...azureCredentials(connection) };
  }
}

function s3Credentials(credentials: S3Credentials): Record<string, string> {
  if ('access_key_id' in credentials) return { access_key_id: credentials.access_key_id, secret_access_key: credentials.secret_access_key };
  return 'env_auth' in credentials ? { env_auth: 'true' } : {};
}

function gcsOptions(connection: GcsConnection): Record<string, string> {
  if ('hmac' in connection) {
    return {
      type: 's3',
      provider: 'GCS',
      endpoint: connection.endpoint ?? GCS_XML_API,
      access_key_id: connection.hmac.access_key_id,
      secret_access_key: connection.hmac.secret,
      no_check_bucket: 'true',
    };
  }
  // Object ACLs are left to the bucket: buckets with uniform bucket-level access refuse uploads that set one.
  const common: Record<string, string> = { type: 'gcs', bucket_policy_only: 'true', no_check_bucket: 'true' };
  if (connection.endpoint !== undefined) common.endpoint = connection.endpoint;
  if ('anonymous' in connection) return { ...common, anonymous: 'true' };
  return { ...common, service_account_credentials: connection.service_account_json };
}

function azureCredentials(connection: AzureConnection): Record<string, string> {
  if ('sas_url' in connection) return { sas_url: connection.sas_url };
  if ('connection_string' in connection) return { connection_string: connection.connection_string };
  return {
    account: connection.account,
    key: connection.key,
    ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
  };
}
