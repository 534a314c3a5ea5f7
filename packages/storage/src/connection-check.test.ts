import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rcloneError, redactor, testConnection } from './connection-check.js';
import { rcloneRemote, type RcloneRemote } from './rclone-remote.js';

// testConnection against stand-ins for rclone: shell scripts that keep a bucket in a directory (or fail as rclone
// does) and record how they were run. The real rclone against the emulators is test/storage-connection-test.test.ts.
const directories: string[] = [];

afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const remote = rcloneRemote('bucket', {
  provider: 's3',
  bucket: 'acme-data',
  endpoint: 'http://127.0.0.1:9',
  path_style: true,
  access_key_id: 'AKIAIOSFODNN7EXAMPLE',
  secret_access_key: SECRET_KEY,
});

interface FakeRclone {
  path: string;
  /** The objects of the bucket, by key. */
  objects(): string[];
  /** Each run: its arguments, and its environment but for what the shell adds (PWD). */
  runs(): Array<{ args: string[]; environment: Record<string, string> }>;
}

/**
 * A stand-in for rclone: records each run, then does `body` (a shell script: the command is $1, the remote path's
 * file in the bucket directory $store is $target); by default an object store in a directory.
 */
function fakeRclone(body = OBJECT_STORE): FakeRclone {
  const directory = mkdtempSync(join(tmpdir(), 'airlock-fake-rclone-'));
  directories.push(directory);
  mkdirSync(join(directory, 'store'));
  const path = join(directory, 'rclone');
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      'dir=$(dirname "$0"); store="$dir/store"',
      'for arg in "$@"; do case "$arg" in bucket:*) path="${arg#bucket:}" ;; esac; done; target="$store/$path"',
      '{ echo "--- run"; for arg in "$@"; do echo "arg $arg"; done; env | grep -v "^PWD=" | sed "s/^/env /"; } >> "$dir/runs"',
      body,
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  const objects = (below: string): string[] =>
    readdirSync(below, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? objects(join(below, entry.name)).map((name) => `${entry.name}/${name}`) : [entry.name],
    );
  return {
    path,
    objects: () => objects(join(directory, 'store')),
    runs: () =>
      readFileSync(join(directory, 'runs'), 'utf8')
        .split('--- run\n')
        .filter((run) => run !== '')
        .map((run) => {
          const lines = run.trimEnd().split('\n');
          const environment: Record<string, string> = {};
          for (const line of lines.filter((entry) => entry.startsWith('env '))) {
            const [name, ...value] = line.slice(4).split('=');
            environment[name!] = value.join('=');
          }
          return { args: lines.filter((line) => line.startsWith('arg ')).map((line) => line.slice(4)), environment };
        }),
  };
}

/** An object store kept in $store: a prefix holding nothing lists empty, a missing bucket is "directory not found". */
const OBJECT_STORE = `
bucket="$store/\${path%%/*}"
[ -d "$bucket" ] || { echo "2026/12/05 00:27:28 NOTICE: Failed to $1 with 2 errors: last error was: error in ListJSON: directory not found" >&2; exit 3; }
case "$1" in
  lsf) ls -A "$target" 2>/dev/null; exit 0 ;;
  rcat) mkdir -p "$(dirname "$target")" && cat > "$target" ;;
  cat) cat "$target" 2>/dev/null; exit 0 ;;
  deletefile) rm "$target" ;;
esac`;

/** The OBJECT_STORE with one command replaced by `replacement` (a shell command list). */
const storeWhere = (command: string, replacement: string) => OBJECT_STORE.replace(new RegExp(`  ${command}\\) [^\\n]*`), `  ${command}) ${replacement} ;;`);

function withBucket(rclone: FakeRclone, keys: string[] = []): FakeRclone {
  const store = join(rclone.path, '..', 'store', 'acme-data');
  mkdirSync(store, { recursive: true });
  for (const key of keys) {
    mkdirSync(join(store, key, '..'), { recursive: true });
    writeFileSync(join(store, key), 'x');
  }
  return rclone;
}

const test = (rclone: FakeRclone, options: { prefix?: string; readOnly?: boolean; timeoutMs?: number; remote?: RcloneRemote } = {}) =>
  testConnection({ rclone: rclone.path, remote: options.remote ?? remote, prefix: options.prefix ?? 'exports', readOnly: options.readOnly ?? false, timeoutMs: options.timeoutMs });

describe('testing a connection', () => {
  it('lists the prefix, then writes, reads back and deletes a probe below it, with rclone given only the remote', async () => {
    const rclone = withBucket(fakeRclone(), ['exports/report.csv']);
    const result = await test(rclone);
    expect(result).toEqual({
      reachable: true,
      writable: true,
      message: expect.stringMatching(/^Reachable and writable: listed "acme-data\/exports", and wrote, read back and deleted \.airlock-connection-test-[0-9a-f]{12} there\.$/),
    });
    expect(rclone.objects()).toEqual(['acme-data/exports/report.csv']);
    const runs = rclone.runs();
    const probe = /(\.airlock-connection-test-[0-9a-f]{12})/.exec(result.message)![1]!;
    expect(runs.map((run) => run.args.slice(0, -10))).toEqual([
      ['lsf', '--max-depth', '1', 'bucket:acme-data/exports'],
      ['rcat', `bucket:acme-data/exports/${probe}`],
      ['cat', `bucket:acme-data/exports/${probe}`],
      ['deletefile', `bucket:acme-data/exports/${probe}`],
    ]);
    for (const run of runs) {
      expect(run.args.slice(-10)).toEqual(['--config', '/dev/null', '--low-level-retries', '1', '--retries', '1', '--contimeout', '5s', '--timeout', '10s']);
      expect(run.environment).toEqual({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...remote.environment });
    }
  });

  it('a connection to the whole bucket probes at its root', async () => {
    const rclone = withBucket(fakeRclone());
    expect(await test(rclone, { prefix: '' })).toMatchObject({ reachable: true, writable: true, message: expect.stringContaining('listed "acme-data",') });
    expect(rclone.runs()[1]?.args[1]).toMatch(/^bucket:acme-data\/\.airlock-connection-test-/);
  });

  it('a read-only connection is listed and nothing is written: writable is null', async () => {
    const rclone = withBucket(fakeRclone(), ['exports/report.csv']);
    expect(await test(rclone, { readOnly: true })).toEqual({
      reachable: true,
      writable: null,
      message: 'Reachable: listed "acme-data/exports". Nothing was written: the connection is read-only.',
    });
    expect(rclone.runs().map((run) => run.args[0])).toEqual(['lsf']);
    expect(rclone.objects()).toEqual(['acme-data/exports/report.csv']);
  });

  it('a bucket that is not there is not reachable, and the message says to check its name', async () => {
    expect(await test(fakeRclone())).toEqual({
      reachable: false,
      writable: false,
      message: 'Not reachable: listing "acme-data/exports" failed: directory not found; check that the bucket exists and its name is right.',
    });
    expect(await test(fakeRclone(), { readOnly: true })).toMatchObject({ reachable: false, writable: null });
  });

  it("a refused listing is not reachable, with rclone's last error in one line and no credential in it", async () => {
    const rclone = fakeRclone(`cat >&2 <<EOF
2026/12/05 00:27:28 ERROR : retrying with key $RCLONE_CONFIG_BUCKET_SECRET_ACCESS_KEY
2026/12/05 00:27:28 CRITICAL: Failed to create file system for "bucket:acme-data/exports": HEAD http://127.0.0.1:9/acme-data/exports
--------------------------------------------------------------------------------
RESPONSE 403: 403 Server failed to authenticate the request (key $RCLONE_CONFIG_BUCKET_ACCESS_KEY_ID, secret $RCLONE_CONFIG_BUCKET_SECRET_ACCESS_KEY).
ERROR CODE: AuthorizationFailure
--------------------------------------------------------------------------------
Response contained no body
--------------------------------------------------------------------------------
EOF
exit 1`);
    const result = await test(rclone);
    expect(result).toEqual({
      reachable: false,
      writable: false,
      message:
        'Not reachable: listing "acme-data/exports" failed: Failed to create file system for "bucket:acme-data/exports": ' +
        'HEAD http://127.0.0.1:9/acme-data/exports RESPONSE 403: 403 Server failed to authenticate the request (key ****, ' +
        'secret ****). ERROR CODE: AuthorizationFailure; check the endpoint, the bucket name and the credentials, and ' +
        'that this server reaches the endpoint.',
    });
  });

  it('a bucket that does not answer in time is not reachable, after the time given', async () => {
    const started = Date.now();
    const result = await test(fakeRclone('exec sleep 30'), { timeoutMs: 300 });
    expect(result).toEqual({ reachable: false, writable: false, message: expect.stringMatching(/^Not reachable: listing "acme-data\/exports" got no answer within 0\.3 s;/) });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a listing counts as an answer at its first entry: a prefix holding very many is not listed to its end', async () => {
    const rclone = withBucket(fakeRclone(storeWhere('lsf', 'echo first.csv; exec sleep 30')));
    const started = Date.now();
    expect(await test(rclone, { readOnly: true, timeoutMs: 10_000 })).toMatchObject({ reachable: true, writable: null });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a refused write is reachable but not writable, and says what to check', async () => {
    const rclone = withBucket(fakeRclone(storeWhere('rcat', 'echo "2026/12/05 00:27:10 NOTICE: Failed to rcat: AccessDenied: Access Denied" >&2; exit 1')));
    expect(await test(rclone)).toEqual({
      reachable: true,
      writable: false,
      message: expect.stringMatching(
        /^Reachable but not writable: writing \.airlock-connection-test-[0-9a-f]{12} below "acme-data\/exports" failed: AccessDenied: Access Denied; check that the credentials may write there, or make the connection read-only\.$/,
      ),
    });
  });

  it('a probe read back unlike what was written is not writable, and is deleted', async () => {
    const rclone = withBucket(fakeRclone(storeWhere('cat', 'echo changed')));
    expect(await test(rclone)).toMatchObject({ reachable: true, writable: false, message: expect.stringMatching(/read back as 8 bytes unlike the \d+ written\.$/) });
    expect(rclone.objects()).toEqual([]);
  });

  it('a probe that cannot be deleted is not writable, and the message names it to delete by hand', async () => {
    const rclone = withBucket(fakeRclone(storeWhere('deletefile', 'echo "2026/12/05 00:27:10 NOTICE: Failed to deletefile: AccessDenied: no delete" >&2; exit 1')));
    const result = await test(rclone);
    const [left] = rclone.objects();
    expect(left).toMatch(/^acme-data\/exports\/\.airlock-connection-test-[0-9a-f]{12}$/);
    expect(result).toEqual({
      reachable: true,
      writable: false,
      message:
        `Reachable but not writable: ${left!.split('/').at(-1)} was written below "acme-data/exports" and read back, but deleting it failed: ` +
        'AccessDenied: no delete; delete it by hand. Sandboxes delete files and rename them (a copy and a delete on a bucket), so the credentials need delete too.',
    });
  });

  it('rejects when rclone cannot be run', async () => {
    await expect(testConnection({ rclone: '/nonexistent/rclone', remote, prefix: '', readOnly: true })).rejects.toThrow(
      /^cannot run rclone at \/nonexistent\/rclone: spawn \/nonexistent\/rclone ENOENT$/,
    );
  });
});

describe("rclone's error", () => {
  it('is the last record without timestamp, level and the "Failed to <command>" wrapper', () => {
    expect(
      rcloneError(
        '2026/12/05 00:26:58 ERROR : error listing: first\n' +
          '2026/12/05 00:26:58 NOTICE: Failed to lsf with 2 errors: last error was: error in ListJSON: operation error S3: ListObjects, ' +
          'api error SignatureDoesNotMatch: The request signature we calculated does not match.\n',
      ),
    ).toBe('operation error S3: ListObjects, api error SignatureDoesNotMatch: The request signature we calculated does not match');
    expect(rcloneError('')).toBe('rclone said nothing about why');
    expect(rcloneError('unexpected output\n')).toBe('unexpected output');
    expect(rcloneError(`2026/12/05 00:26:58 NOTICE: ${'x'.repeat(2_000)}`)).toHaveLength(1_003);
  });
});

describe('redacting credentials', () => {
  it("removes every secret of a remote, and the parts of one an error could quote: a SAS URL's signature, a connection string's key, a private key's lines", () => {
    const sasUrl = 'https://acme.blob.core.windows.net/archive?sv=2022-11-02&sp=rl&sig=SASSIGNATURE%2Bvalue0123';
    const sas = redactor(rcloneRemote('bucket', { provider: 'azure', container: 'archive', sas_url: sasUrl }));
    expect(sas(`GET ${sasUrl}`)).toBe('GET ****');
    expect(sas('GET https://acme.blob.core.windows.net/archive?comp=list&sig=SASSIGNATURE%2Bvalue0123')).toBe(
      'GET https://acme.blob.core.windows.net/archive?comp=list&sig=****',
    );
    expect(sas('signature SASSIGNATURE+value0123 refused; sig=anotherSignature')).toBe('signature **** refused; sig=****');

    const connectionString = 'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=connectionStringKey0123==;EndpointSuffix=core.windows.net';
    const azure = redactor(rcloneRemote('bucket', { provider: 'azure', container: 'archive', connection_string: connectionString }));
    expect(azure('bad key connectionStringKey0123== for account acme')).toBe('bad key **** for account acme');

    const privateKey = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
    const serviceAccount = JSON.stringify({ type: 'service_account', client_email: 'a@b.iam.gserviceaccount.com', private_key: privateKey, private_key_id: 'keyid0123456789' });
    const gcs = redactor(rcloneRemote('bucket', { provider: 'gcs', bucket: 'b', service_account_json: serviceAccount }));
    expect(gcs(`parse ${serviceAccount}`)).toBe('parse ****');
    expect(gcs('bad key MIIEvQIBADANBgkqhkiG9w0BAQEFAASC (keyid0123456789)')).toBe('bad key **** (****)');

    const s3 = redactor(remote);
    expect(s3(`key AKIAIOSFODNN7EXAMPLE secret ${SECRET_KEY} at http://127.0.0.1:9 bucket acme-data`)).toBe('key **** secret **** at http://127.0.0.1:9 bucket acme-data');
  });
});
