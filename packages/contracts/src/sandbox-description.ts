import type { ConnectorType } from './connectors.js';
import type { NetworkMode } from './network.js';
import { LIMITS } from './limits.js';

/** What the sandbox's network lets code do, as the model reads it. */
function networkSentence(network: NetworkMode, allow: readonly string[]): string {
  switch (network) {
    case 'blocked':
      return [
        'It has no network access (no DNS, loopback only): pip install, npm install and downloads fail, so work with what',
        'is installed.',
      ].join(' ');
    case 'allowlist':
      return [
        `It reaches only these names and networks: ${allow.length > 0 ? allow.join(', ') : '(none)'}. Names outside the list`,
        'do not resolve and other addresses are refused; HTTPS and HTTP go to the listed names only (QUIC is refused, so',
        'clients use TCP). Private networks, cloud metadata addresses, the host itself and port 25 are always unreachable.',
      ].join(' ');
    case 'unrestricted':
      return [
        'It has internet access (DNS, HTTP and HTTPS; pip install --user and npm install work), but private networks,',
        'cloud metadata addresses and the host itself are unreachable, and so is port 25 (mail).',
      ].join(' ');
  }
}

/** An image other than the default, as a model needs to know it: what runs there. */
export interface SandboxImageFacts {
  name: string;
  /** Each language the image runs and the version its interpreter reports. */
  languages: ReadonlyArray<{ language: string; version: string }>;
}

const DEFAULT_IMAGE_SENTENCE = [
  'The sandbox is a Debian 13 system with bash, coreutils, Python 3.13 with pip and numpy, pandas, scipy,',
  'scikit-learn, matplotlib (no display: save figures to files), pillow, pyarrow, sympy, requests, httpx,',
  'beautifulsoup4, lxml, openpyxl and the drivers psycopg, pymysql, redis, pymongo, boto3, google-cloud-storage,',
  'google-cloud-bigquery and azure-storage-blob installed, Node.js 24 with npm, curl, git, gh, jq, sqlite3, psql,',
  'mysql and redis-cli.',
].join(' ');

function imageSentence(image: SandboxImageFacts): string {
  const languages = image.languages.map(({ language, version }) => `${language} (${version})`).join(', ');
  return `The sandbox runs the image "${image.name}", which has ${languages || 'no language'}; use only ${image.languages.length === 1 ? 'that language' : 'those languages'}.`;
}

/** A connector of the caller's calls, as a model needs to know it: its name and type, never its settings. */
export interface SandboxConnectorFacts {
  name: string;
  type: ConnectorType;
}

/** How code uses a connector of each type: the tools that find its credentials with no argument. */
const CONNECTOR_USE: Record<ConnectorType, (name: string) => string> = {
  postgresql: (name) => `"${name}" (PostgreSQL: psql and psycopg.connect("") connect as they are; psql "service=${name}")`,
  mysql: (name) => `"${name}" (MySQL/MariaDB: the mysql client connects as it is; pymysql.connect(read_default_file="/run/airlock/connectors/${name}/my.cnf"))`,
  redis: (name) => `"${name}" (Redis: redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT"; redis.Redis.from_url(os.environ["REDIS_URL"], password=os.environ.get("REDISCLI_AUTH")))`,
  mongodb: (name) => `"${name}" (MongoDB: pymongo.MongoClient(os.environ["MONGODB_URI"]))`,
  s3: (name) => `"${name}" (S3: boto3.client("s3") as it is; AWS profile "${name}")`,
  gcs: (name) => `"${name}" (Google Cloud Storage: google.cloud.storage.Client() as it is)`,
  bigquery: (name) => `"${name}" (BigQuery: google.cloud.bigquery.Client() as it is)`,
  azure: (name) => `"${name}" (Azure Blob Storage: BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"]))`,
  github: (name) => `"${name}" (GitHub: git clone https://github.com/... and gh work as they are)`,
  http_api: (name) => `"${name}" (an HTTP API: its key is in an environment variable; see env)`,
};

function connectorsSentence(connectors: readonly SandboxConnectorFacts[]): string {
  if (connectors.length === 0) return '';
  return [
    `Credentials are set up for these services, and the network reaches their servers even where it is otherwise blocked:`,
    `${connectors.map(({ name, type }) => CONNECTOR_USE[type](name)).join('; ')}.`,
    'Never put credentials in code or print them: tools find them in /run/airlock/connectors and the environment,',
    'and printed ones come back as [REDACTED].',
  ].join(' ');
}

/**
 * What a sandbox is and what it can do, for the models that write code for it: the MCP tool's description (with the
 * network and image of the caller's sandbox) and the SDKs' code_sandbox tools (TypeScript and Python, pinned by tests
 * to the description of the default image and network, `blocked`). It states only what this server serves.
 */
export function sandboxDescription(
  network: NetworkMode,
  allow: readonly string[] = [],
  image?: SandboxImageFacts,
  connectors: readonly SandboxConnectorFacts[] = [],
): string {
  return [
    image ? imageSentence(image) : DEFAULT_IMAGE_SENTENCE,
    networkSentence(network, allow),
    ...(connectors.length > 0 ? [connectorsSentence(connectors)] : []),
    'The code runs as an unprivileged user in /home/sandbox. /tmp is emptied after every call and no',
    `process outlives it. stdout and stderr are each cut after ${LIMITS.outputMaxBytes / 1024} KB, so print summaries,`,
    'not whole data sets. Code still running at its timeout is killed (exit code 137); a non-zero exit code, a timeout',
    'or running out of memory is a normal result, not an error: read stderr and fix the code.',
  ].join(' ');
}

/** The description of a sandbox without network, the default. */
export const SANDBOX_DESCRIPTION = sandboxDescription('blocked');
