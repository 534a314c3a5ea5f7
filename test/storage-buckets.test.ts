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

async function run(key: string, code: string, request: { sub_paths?: string[] } = {}) {
  return airlock.request<{ stdout: string; stderr: string; status: string; storage_sync?: unknown; message?: string }>('/v1/sandbox/execute', {
    method: 'POST',
    apiKey: key,
    json: { language: 'python', code, ...request },
  });
}

/**
 * Python that runs each named action (an expression, or a function of `definitions`) and prints `<name> ok`, or
 * `<name> <errno name>` when it raises OSError.
 */
function attempts(actions: Record<string, string>, definitions: string[] = []): string {
  return [
    'import errno, os',
    ...definitions,
    'def attempt(name, action):',
    '    try:',
    '        action()',
    '        print(name, "ok")',
    '    except OSError as error:',
    '        print(name, errno.errorcode[error.errno])',
    ...Object.entries(actions).map(([name, action]) => `attempt(${JSON.stringify(name)}, ${action})`),
  ].join('\n');
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
    const connection = await airlock.admin('/admin/v1/storage-connections', request.body);
    await airlock.admin('/admin/v1/sandboxes', { name: `byob-${provider}` });
    await airlock.admin(`/admin/v1/sandboxes/byob-${provider}/attachments`, { connection: connection.id });
    key = (await airlock.admin('/admin/v1/api-keys', { name: `byob-${provider}`, sandbox: `byob-${provider}` })).key as string;
    readOnlyKey = (await airlock.admin('/admin/v1/api-keys', { name: `byob-${provider}-ro`, sandbox: `byob-${provider}`, storage: { bucket: { read_only: true } } }))
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
    const attempted = await run(readOnlyKey, attempts({
      read: 'lambda: open("/data/bucket/out/result.csv").read()',
      write: 'lambda: open("/data/bucket/out/result.csv", "a").write("x")',
      create: 'lambda: open("/data/bucket/ro.txt", "w")',
      rename: 'lambda: os.rename("/data/bucket/out/result.csv", "/data/bucket/out/moved.csv")',
      chmod: 'lambda: os.chmod("/data/bucket/out/result.csv", 0o777)',
    }));
    expect(attempted.body.stdout.trim().split('\n')).toEqual(['read ok', 'write EROFS', 'create EROFS', 'rename EROFS', 'chmod EROFS']);
    expect(attempted.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    expect((await emulator.get('out/result.csv'))?.toString()).toBe('answer,42\n');
    expect(await emulator.get('ro.txt')).toBeNull();
  });

  it('a file put into a directory the previous call wrote to is seen by the next call', async () => {
    await run(key, 'import os\nos.makedirs("/data/bucket/fresh", exist_ok=True)\nopen("/data/bucket/fresh/a.txt", "w").write("a")');
    await emulator.put('fresh/b.txt', 'b');
    const listed = await run(key, 'import os\nprint(sorted(os.listdir("/data/bucket/fresh")))');
    expect(listed.body.stdout).toBe("['a.txt', 'b.txt']\n");
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

describe('a strict s3 storage connection (no cache: a file is uploaded as it is closed)', () => {
  let emulator: StorageEmulator;
  let key: string;

  beforeAll(async () => {
    emulator = await startStorageEmulator('s3');
    const connection = await airlock.admin('/admin/v1/storage-connections', { ...connectionRequest(emulator, 's3').body, name: 's3 strict', sync_mode: 'strict' });
    expect(connection.sync_mode).toBe('strict');
    await airlock.admin('/admin/v1/sandboxes', { name: 'byob-strict' });
    await airlock.admin('/admin/v1/sandboxes/byob-strict/attachments', { connection: connection.id });
    key = (await airlock.admin('/admin/v1/api-keys', { name: 'byob-strict', sandbox: 'byob-strict' })).key as string;
  }, 120_000);

  afterAll(async () => {
    await emulator?.remove();
  });

  it('a file python writes sequentially is in the bucket when the answer arrives', async () => {
    const written = await run(key, [
      'import os',
      'os.makedirs("/data/bucket/strict", exist_ok=True)',
      'with open("/data/bucket/strict/sequential.bin", "wb") as f:',
      '    for _ in range(64): f.write(bytes(range(256)) * 256)',
    ].join('\n'));
    expect(written.body.stderr).toBe('');
    expect(written.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    expect((await emulator.get('strict/sequential.bin'))?.equals(Buffer.alloc(4 * 1024 * 1024, Buffer.from(Array.from({ length: 256 }, (_, byte) => byte))))).toBe(true);
  });

  it('opening an existing file for read+write or to append is EPERM, a write after a seek ESPIPE; a whole rewrite works', async () => {
    const attempted = await run(key, attempts(
      {
        'read+write': 'lambda: open("/data/bucket/strict/sequential.bin", "r+b").close()',
        append: 'lambda: open("/data/bucket/strict/sequential.bin", "ab").close()',
        'seek and write': 'seek_and_write',
        rewrite: 'lambda: open("/data/bucket/strict/sequential.bin", "w").write("after\\n")',
        'read+write of a new file': 'lambda: os.close(os.open("/data/bucket/strict/created.txt", os.O_RDWR | os.O_CREAT))',
      },
      [
        'def seek_and_write():',
        '    fd = os.open("/data/bucket/strict/seeked.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)',
        '    try:',
        '        os.write(fd, b"abc")',
        '        os.lseek(fd, 0, os.SEEK_SET)',
        '        os.write(fd, b"Z")',
        '    finally:',
        '        os.close(fd)',
      ],
    ));
    expect(attempted.body.stdout.trim().split('\n')).toEqual([
      'read+write EPERM',
      'append EPERM',
      'seek and write ESPIPE',
      'rewrite ok',
      'read+write of a new file ok',
    ]);
    expect(attempted.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    // The bytes written before the seek are uploaded as the file.
    expect([(await emulator.get('strict/sequential.bin'))?.toString(), (await emulator.get('strict/seeked.txt'))?.toString()]).toEqual(['after\n', 'abc']);
  });
});

describe('key prefixes on an s3 connection with a prefix of its own', () => {
  let emulator: StorageEmulator;
  const keys = { a: '', b: '' };

  beforeAll(async () => {
    emulator = await startStorageEmulator('s3');
    const connection = await airlock.admin('/admin/v1/storage-connections', { ...connectionRequest(emulator, 's3').body, name: 's3 tenants', prefix: 'exports' });
    await airlock.admin('/admin/v1/sandboxes', { name: 'byob-tenants' });
    await airlock.admin('/admin/v1/sandboxes/byob-tenants/attachments', { connection: connection.id });
    for (const tenant of ['a', 'b'] as const) {
      const created = await airlock.admin('/admin/v1/api-keys', { name: `byob-tenant-${tenant}`, sandbox: 'byob-tenants', storage: { bucket: { prefix: `tenants/${tenant}` } } });
      keys[tenant] = created.key as string;
    }
  }, 120_000);

  afterAll(async () => {
    await emulator?.remove();
  });

  it("each key's writes land below its own prefix, below the connection's", async () => {
    await emulator.put('exports/tenants/ab/neighbour.txt', 'ab');
    await emulator.put('outside.txt', 'outside');
    for (const tenant of ['a', 'b'] as const) {
      const written = await run(keys[tenant], `open("/data/bucket/mine.txt", "w").write("${tenant}")`);
      expect(written.body.stderr).toBe('');
      expect(written.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    }
    expect(await emulator.list()).toEqual(['exports/tenants/a/mine.txt', 'exports/tenants/ab/neighbour.txt', 'exports/tenants/b/mine.txt', 'outside.txt']);
    expect([(await emulator.get('exports/tenants/a/mine.txt'))?.toString(), (await emulator.get('exports/tenants/b/mine.txt'))?.toString()]).toEqual(['a', 'b']);
  });

  it("each key's sandbox sees only its own subtree: listings and .. paths do not reach the other, a symbolic link is EIO", async () => {
    for (const [tenant, other] of [['a', 'b'], ['b', 'a']] as const) {
      const looked = await run(keys[tenant], [
        attempts(
          {
            'parent': `lambda: open("/data/bucket/../${other}/mine.txt").read()`,
            'two up': `lambda: open("/data/bucket/../../tenants/${other}/mine.txt").read()`,
            'three up': `lambda: open("/data/bucket/../../../exports/tenants/${other}/mine.txt").read()`,
            'symlink': `lambda: os.symlink("../${other}/mine.txt", "/data/bucket/link")`,
          },
        ),
        'print(sorted(os.listdir("/data/bucket")), sorted(os.listdir("/data/bucket/..")), open("/data/bucket/mine.txt").read())',
        `print("tenants/${other}" in open("/proc/self/mountinfo").read())`,
      ].join('\n'));
      expect(looked.body.stderr).toBe('');
      expect(looked.body.stdout.trim().split('\n')).toEqual([
        'parent ENOENT',
        'two up ENOENT',
        'three up ENOENT',
        'symlink EIO',
        `['mine.txt'] ['bucket'] ${tenant}`,
        'False',
      ]);
    }
    expect(await emulator.list('exports/tenants')).toEqual(['exports/tenants/a/mine.txt', 'exports/tenants/ab/neighbour.txt', 'exports/tenants/b/mine.txt']);
  });

  it('sub_paths narrows a key\'s mount for one call, and a path that would widen it is refused', async () => {
    const narrowed = await run(keys.a, 'import os\nprint(os.listdir("/data/bucket"))\nopen("/data/bucket/narrowed.txt", "w").write("x")', { sub_paths: ['/data/bucket/x'] });
    expect([narrowed.body.stdout, narrowed.body.stderr]).toEqual(['[]\n', '']);
    expect(narrowed.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    expect((await emulator.get('exports/tenants/a/x/narrowed.txt'))?.toString()).toBe('x');
    const whole = await run(keys.a, 'import os\nprint(sorted(os.listdir("/data/bucket")))');
    expect(whole.body.stdout).toBe("['mine.txt', 'x']\n");
    const widened = await run(keys.a, 'print("ran")', { sub_paths: ['/data/bucket/../b'] });
    expect(widened.status).toBe(400);
    expect(widened.body.message).toContain('sub_paths');
  });
});
