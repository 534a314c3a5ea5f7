import type { ConnectorSettings } from '@airlock/contracts';
import type { SandboxRuntime } from '@airlock/runtime';
import { connectorInjection, CONNECTORS_ROOT, type OpenedConnector } from './connector-injection.js';
import type { ConnectorTester } from './connector-service.js';
import { OutputRedaction } from './output-redaction.js';

const PROBE_TIMEOUT_MS = 30_000;
const PROBE_LIMITS = { cpus: 1, memoryBytes: 512 * 1024 * 1024, pids: 256, tmpBytes: 64 * 1024 * 1024, homeBytes: 64 * 1024 * 1024 };
/** The end of a probe's output kept in its message. */
const MESSAGE_CHARACTERS = 1_500;
/**
 * How long the Google clients of a probe retry (they retry a failed name lookup or connection for minutes by default):
 * well within PROBE_TIMEOUT_MS, so that a probe that cannot reach Google prints why.
 */
const GOOGLE_RETRY_SECONDS = 10;

/**
 * "Test connection" (ConnectorService.test): a probe of the connector's type runs in a sandbox of `image` with the
 * connector injected as in a call and a network that reaches only its endpoints, through the tools and drivers the
 * image carries. The probe's output, secrets redacted, is the message.
 */
export class ConnectorProbes implements ConnectorTester {
  readonly #runtime: Pick<SandboxRuntime, 'acquire' | 'languages'>;
  readonly #image: string;

  constructor(options: { runtime: Pick<SandboxRuntime, 'acquire' | 'languages'>; image: string }) {
    this.#runtime = options.runtime;
    this.#image = options.image;
  }

  async test(connector: OpenedConnector): Promise<{ ok: boolean; message: string }> {
    if (!this.#runtime.languages(this.#image)?.includes('bash')) {
      return { ok: false, message: `image "${this.#image}" is not ready on this server, so no probe could run; try again once it is` };
    }
    const injection = connectorInjection([connector]);
    const probe = probeOf(connector);
    let outcome;
    try {
      const { sandbox } = await this.#runtime.acquire({ image: this.#image, language: 'bash', limits: PROBE_LIMITS, network: 'allowlist' });
      outcome = await sandbox.run({
        code: probe.script,
        env: { ...injection.env, ...probe.env },
        files: injection.files,
        timeoutMs: PROBE_TIMEOUT_MS,
        networkAllowlist: [],
        connectorEndpoints: injection.endpoints,
      });
    } catch (error) {
      return { ok: false, message: `no sandbox could run the probe on this server: ${error instanceof Error ? error.message : String(error)}` };
    }
    const redaction = new OutputRedaction(injection.secrets);
    const output = redaction.redactText(`${outcome.stdout}${outcome.stderr}`.trim()).slice(-MESSAGE_CHARACTERS);
    if (outcome.status === 'timeout') return { ok: false, message: `${probe.what}: no answer within ${PROBE_TIMEOUT_MS / 1000} s${output ? `: ${output}` : ''}` };
    if (outcome.exitCode !== 0) return { ok: false, message: `${probe.what} failed (exit ${outcome.exitCode}): ${output || 'no output'}` };
    return { ok: true, message: `${probe.what}: ${output || 'ok'}` };
  }
}

interface Probe {
  /** What the probe does, in words. */
  what: string;
  /** A bash script; it exits 0 when the connector works. */
  script: string;
  /** Its parameters, so that no setting is ever spliced into the script. */
  env: Record<string, string>;
}

function python(source: string): string {
  return `/usr/bin/python3 - <<'PROBE'\n${source}\nPROBE`;
}

function probeOf(connector: OpenedConnector): Probe {
  const settings: ConnectorSettings = connector.settings;
  switch (settings.type) {
    case 'postgresql':
      return { what: 'psql -c "select current_user"', script: 'psql -X -A -t -v ON_ERROR_STOP=1 -c "select \'connected as \' || current_user"', env: {} };
    case 'mysql':
      return { what: 'mariadb -e "select current_user()"', script: 'mariadb -N -e "select concat(\'connected as \', current_user())"', env: {} };
    case 'redis':
      return {
        what: 'redis-cli PING',
        script: [
          'options=(-h "$REDIS_HOST" -p "$REDIS_PORT" -n "$PROBE_DATABASE")',
          '[ -n "$PROBE_USER" ] && options+=(--user "$PROBE_USER")',
          '[ "$PROBE_TLS" = true ] && options+=(--tls)',
          'answer=$(redis-cli "${options[@]}" PING 2>&1)',
          'echo "$answer"',
          '[ "$answer" = PONG ]',
        ].join('\n'),
        env: { PROBE_DATABASE: String(settings.database), PROBE_USER: settings.username ?? '', PROBE_TLS: String(settings.tls) },
      };
    case 'mongodb':
      return {
        what: 'pymongo ping',
        script: python(
          'import os, pymongo\nclient = pymongo.MongoClient(os.environ["MONGODB_URI"], serverSelectionTimeoutMS=10000)\n' +
            'print("ping:", client[os.environ["PROBE_DATABASE"]].command("ping"))',
        ),
        env: { PROBE_DATABASE: settings.database },
      };
    case 's3':
      return {
        what: settings.bucket ? 'boto3 list_objects_v2 of the bucket' : 'boto3 list_buckets',
        script: python(
          'import os, boto3\ns3 = boto3.client("s3")\nbucket = os.environ.get("PROBE_BUCKET")\n' +
            'if bucket:\n    print("objects listed:", s3.list_objects_v2(Bucket=bucket, MaxKeys=1).get("KeyCount"))\n' +
            'else:\n    print("buckets:", len(s3.list_buckets()["Buckets"]))',
        ),
        env: settings.bucket ? { PROBE_BUCKET: settings.bucket } : {},
      };
    case 'gcs':
      return {
        what: settings.bucket ? 'google-cloud-storage list_blobs of the bucket' : 'google-cloud-storage list_buckets',
        script: python(
          'import os\nfrom google.cloud import storage\nfrom google.cloud.storage.retry import DEFAULT_RETRY\n' +
            `client = storage.Client()\nbucket = os.environ.get("PROBE_BUCKET")\nbounded = dict(retry=DEFAULT_RETRY.with_timeout(${GOOGLE_RETRY_SECONDS}), timeout=${GOOGLE_RETRY_SECONDS})\n` +
            'if bucket:\n    print("objects listed:", len(list(client.list_blobs(bucket, max_results=1, **bounded))))\n' +
            'else:\n    print("buckets:", len(list(client.list_buckets(max_results=5, **bounded))))',
        ),
        env: settings.bucket ? { PROBE_BUCKET: settings.bucket } : {},
      };
    case 'bigquery':
      return {
        what: 'google-cloud-bigquery query "select 1"',
        script: python(
          'import os\nfrom google.cloud import bigquery\n' +
            'rows = bigquery.Client().query_and_wait("select 1", location=os.environ.get("PROBE_LOCATION") or None, ' +
            `retry=bigquery.DEFAULT_RETRY.with_timeout(${GOOGLE_RETRY_SECONDS}), job_retry=None, api_timeout=${GOOGLE_RETRY_SECONDS}, wait_timeout=${GOOGLE_RETRY_SECONDS})\n` +
            'print("rows:", [tuple(row) for row in rows])',
        ),
        env: settings.location === undefined ? {} : { PROBE_LOCATION: settings.location },
      };
    case 'azure':
      return {
        what: settings.container ? 'azure-storage-blob get_container_properties' : 'azure-storage-blob list_containers',
        script: python(
          'import os\nfrom azure.storage.blob import BlobServiceClient\n' +
            'if "AZURE_STORAGE_CONNECTION_STRING" in os.environ:\n    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])\n' +
            'else:\n    from azure.identity import EnvironmentCredential\n    service = BlobServiceClient(os.environ["AZURE_STORAGE_BLOB_ENDPOINT"], credential=EnvironmentCredential())\n' +
            'container = os.environ.get("PROBE_CONTAINER")\n' +
            'if container:\n    print("container:", service.get_container_client(container).get_container_properties().name)\n' +
            'else:\n    print("containers listed:", len(list(service.list_containers(results_per_page=5))))',
        ),
        env: settings.container ? { PROBE_CONTAINER: settings.container } : {},
      };
    case 'github': {
      const apiHost = settings.api_host ?? (settings.host === 'github.com' ? 'api.github.com' : settings.host);
      const path = apiHost === settings.host && settings.host !== 'github.com' ? '/api/v3/user' : '/user';
      return {
        what: `GET https://${apiHost}${path}`,
        script: [
          'token=${GH_TOKEN:-$GH_ENTERPRISE_TOKEN}',
          'options=(-sS -m 20 -o /tmp/answer -w "%{http_code}" -H "Authorization: token $token")',
          `[ -f "$PROBE_CA" ] && options+=(--cacert "$PROBE_CA")`,
          'status=$(curl "${options[@]}" "$PROBE_URL") || exit 1',
          'echo "HTTP $status: $(head -c 300 /tmp/answer)"',
          '[ "$status" = 200 ]',
        ].join('\n'),
        env: { PROBE_URL: `https://${apiHost}${path}`, PROBE_CA: `${CONNECTORS_ROOT}/${connector.name}/ca.pem` },
      };
    }
    case 'http_api':
      return {
        what: `GET ${settings.base_url} (the key itself is not checked)`,
        script: 'status=$(curl -sS -m 20 -o /dev/null -w "%{http_code}" "$PROBE_URL") || exit 1\necho "reached: HTTP $status"',
        env: { PROBE_URL: settings.base_url },
      };
  }
}
