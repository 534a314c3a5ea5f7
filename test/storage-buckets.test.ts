import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageProvider } from '../packages/storage/src/index.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { startStorageEmulator, type StorageEmulator } from './support/storage-emulators.js';

// Storage connections (a customer's own bucket) at /data/<name>, through the API, against an emulator of each
// provider on loopback: the sandbox's writes are in the bucket when the answer arrives.
let airlock: AirlockFixture;

beforeAll(async () => {
  airlock = await startAirlock();
}, 120_000);

afterAll(async () => {
  await airlock?.close();
});

async function admin(path: string, json: unknown) {
  const response = await airlock.request<Record<string, unknown>>(path, { method: 'POST', json, apiKey: airlock.adminToken });
  expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
  return response.body;
}

async function run(key: string, code: string) {
  return airlock.request<{ stdout: string; stderr: string; status: string; storage_sync?: unknown; message?: string }>('/v1/sandbox/execute', {
    method: 'POST',
    apiKey: key,
    json: { language: 'python', code },
  });
}

/** The emulator's connection in the admin API's fields, and the secret strings that must never reach a sandbox. */
function connectionRequest(emulator: StorageEmulator, provider: StorageProvider) {
  const connection = emulator.connection as unknown as Record<string, unknown>;
  const secrets = ['secret_access_key', 'key'].flatMap((field) => (typeof connection[field] === 'string' ? [connection[field] as string] : []));
  return { body: { name: `${provider} bucket`, mount_name: 'bucket', ...connection }, secrets };
}

/** The rclone processes of this server's bucket mounts. */
function rclonePids(): number[] {
  try {
    return execFileSync('pgrep', ['-f', `${airlock.dataDirectory}/buckets/mounts`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe.each(['s3', 'gcs', 'azure'] as const)('a %s storage connection', (provider) => {
  let emulator: StorageEmulator;
  let key: string;
  let readOnlyKey: string;
  let secrets: string[];

  beforeAll(async () => {
    emulator = await startStorageEmulator(provider);
    const request = connectionRequest(emulator, provider);
    secrets = request.secrets;
    const connection = await admin('/admin/v1/storage-connections', request.body);
    await admin('/admin/v1/sandboxes', { name: `byob-${provider}` });
    await admin(`/admin/v1/sandboxes/byob-${provider}/attachments`, { connection: connection.id });
    key = (await admin('/admin/v1/api-keys', { name: `byob-${provider}`, sandbox: `byob-${provider}` })).key as string;
    readOnlyKey = (await admin('/admin/v1/api-keys', { name: `byob-${provider}-ro`, sandbox: `byob-${provider}`, storage: { bucket: { read_only: true } } }))
      .key as string;
  }, 120_000);

  afterAll(async () => {
    await emulator?.remove();
  });

  it('a file python writes at /data/<name> is in the bucket when the answer arrives', async () => {
    const written = await run(key, 'import os\nos.makedirs("/data/bucket/out", exist_ok=True)\nopen("/data/bucket/out/result.csv", "w").write("answer,42\\n")');
    expect(written.body.stderr).toBe('');
    expect(written.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    expect((await emulator.get('out/result.csv'))?.toString()).toBe('answer,42\n');
  });

  it('through a key narrowed to read-only, writes, creates, renames and chmods are EROFS, and nothing lands', async () => {
    const attempts = await run(readOnlyKey, [
      'import errno, os',
      'def attempt(name, action):',
      '    try:',
      '        action()',
      '        print(name, "ok")',
      '    except OSError as error:',
      '        print(name, errno.errorcode[error.errno])',
      'attempt("read", lambda: open("/data/bucket/out/result.csv").read())',
      'attempt("write", lambda: open("/data/bucket/out/result.csv", "a").write("x"))',
      'attempt("create", lambda: open("/data/bucket/ro.txt", "w"))',
      'attempt("rename", lambda: os.rename("/data/bucket/out/result.csv", "/data/bucket/out/moved.csv"))',
      'attempt("chmod", lambda: os.chmod("/data/bucket/out/result.csv", 0o777))',
    ].join('\n'));
    expect(attempts.body.stdout.trim().split('\n')).toEqual(['read ok', 'write EROFS', 'create EROFS', 'rename EROFS', 'chmod EROFS']);
    expect(attempts.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    expect((await emulator.get('out/result.csv'))?.toString()).toBe('answer,42\n');
    expect(await emulator.get('ro.txt')).toBeNull();
  });

  it('a file put into the bucket is read by the next call', async () => {
    await emulator.put('in/customers.csv', 'id,name\n1,Ada\n');
    const read = await run(key, 'print(open("/data/bucket/in/customers.csv").read(), end="")');
    expect([read.body.stdout, read.body.stderr]).toEqual(['id,name\n1,Ada\n', '']);
  });

  it('two concurrent calls writing different files through one mount both land', async () => {
    const [first, second] = await Promise.all(
      ['one', 'two'].map((name) =>
        run(key, `import os\nos.makedirs("/data/bucket/concurrent", exist_ok=True)\nopen("/data/bucket/concurrent/${name}.txt", "w").write("${name}")`),
      ),
    );
    for (const answer of [first!, second!]) {
      expect(answer.body.stderr).toBe('');
      expect(answer.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    }
    expect([(await emulator.get('concurrent/one.txt'))?.toString(), (await emulator.get('concurrent/two.txt'))?.toString()]).toEqual(['one', 'two']);
  });

  it("the connection's credentials are nowhere in the sandbox", async () => {
    const looked = await run(key, [
      'import os, subprocess',
      'print(open("/proc/self/mountinfo").read())',
      'print(dict(os.environ))',
      'print(subprocess.run(["sh", "-c", "cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr \\"\\\\0\\" \\"\\\\n\\""], capture_output=True, text=True).stdout)',
      'print(subprocess.run(["ls", "-laR", "/data", "/run", "/tmp"], capture_output=True, text=True).stdout)',
    ].join('\n'));
    expect(looked.body.stdout).toContain('/data/bucket');
    for (const secret of secrets) expect(looked.body.stdout).not.toContain(secret);
    expect(looked.body.stdout).not.toContain('RCLONE_CONFIG');
  });

  it('a bucket that stops answering fails the call with 503 naming the mount, before any code runs; it works again after', async () => {
    await emulator.stop();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the last probe's freshness
      const failed = await run(key, 'open("/data/bucket/during-outage.txt", "w").write("x")');
      expect(failed.status).toBe(503);
      expect(failed.body.message).toContain('/data/bucket');
    } finally {
      await emulator.start();
    }
    expect(await emulator.list('during-outage')).toEqual([]);
    // rclone's client backs off after failures: the bucket is back for calls within seconds.
    let after = await run(key, 'print(open("/data/bucket/out/result.csv").read(), end="")');
    for (const deadline = Date.now() + 20_000; after.status !== 200 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = await run(key, 'print(open("/data/bucket/out/result.csv").read(), end="")');
    }
    expect([after.status, after.body.stdout], JSON.stringify(after.body)).toEqual([200, 'answer,42\n']);
  });

  it('a killed rclone is mounted again by the next call', async () => {
    const before = rclonePids();
    expect(before.length).toBeGreaterThan(0);
    for (const pid of before) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const written = await run(key, 'open("/data/bucket/after-kill.txt", "w").write("y")');
    expect(written.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    expect((await emulator.get('after-kill.txt'))?.toString()).toBe('y');
  });
});
