import { chownSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxRuntime, StorageAttachment } from '../packages/runtime/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { startTestRuntime } from './support/runtime-fixture.js';

// Storage bound at /data/<name> of running sandboxes, on the runtime alone, from host directories (as a local volume
// is; a bucket's rclone mount is bound the same way).
let runtime: SandboxRuntime;
let directory: string;
let volume: string;
const uid = testSandboxUid();

beforeAll(async () => {
  ({ runtime, directory } = await startTestRuntime({
    prefix: 'airlock-storage-',
    sandboxUid: uid,
    pool: { maxSlots: 2, maxSlotsPerKey: 1, maxConcurrentRefills: 1, idleMs: 60_000 },
  }));
  volume = join(directory, 'volume');
  mkdirSync(join(volume, 'reports'), { recursive: true });
  writeFileSync(join(volume, 'customers.csv'), 'id,name\n1,Ada\n');
  // Owned by the sandbox user, as files a sandbox wrote are: only the mount's read-only flag stops a write.
  for (const path of [volume, join(volume, 'reports'), join(volume, 'customers.csv')]) chownSync(path, uid, uid);
}, 120_000);

afterAll(async () => {
  await runtime?.close();
  await rm(directory, { recursive: true, force: true });
});

const LIMITS = { cpus: 1, memoryBytes: 256 << 20, pids: 64, tmpBytes: 16 << 20, homeBytes: 16 << 20 };

async function runWith(attachments: StorageAttachment[], code: string) {
  const { sandbox } = await runtime.acquire({ image: 'default', language: 'python', limits: LIMITS });
  try {
    await sandbox.attachStorage(attachments);
    return await sandbox.run({ code, env: {}, timeoutMs: 20_000 });
  } finally {
    await sandbox.destroy();
  }
}

const ATTEMPTS = `
import errno, os
def attempt(name, action):
    try:
        action()
        print(name, "ok")
    except OSError as error:
        print(name, errno.errorcode[error.errno])
`;

describe('storage attachments', () => {
  it('a writable attachment is read and written at /data/<name>; the write is on the host when the call ends', async () => {
    const outcome = await runWith(
      [{ name: 'company-data', root: volume, path: '', readOnly: false }],
      [
        'print(open("/data/company-data/customers.csv").read().splitlines()[1])',
        'open("/data/company-data/reports/summary.csv", "w").write("total,1\\n")',
        'os_listing = __import__("os").listdir("/data")',
        'print(os_listing)',
      ].join('\n'),
    );
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toBe("1,Ada\n['company-data']\n");
    expect(readFileSync(join(volume, 'reports', 'summary.csv'), 'utf8')).toBe('total,1\n');
  });

  it('a read-only attachment refuses write, create, rename, chmod, delete and remount; nothing is made in /data itself', async () => {
    const outcome = await runWith(
      [{ name: 'ro', root: volume, path: '', readOnly: true }],
      [
        ATTEMPTS,
        'attempt("read", lambda: open("/data/ro/customers.csv").read())',
        'attempt("write", lambda: open("/data/ro/customers.csv", "a").write("x"))',
        'attempt("create", lambda: open("/data/ro/new.txt", "w"))',
        'attempt("mkdir", lambda: os.mkdir("/data/ro/new"))',
        'attempt("rename", lambda: os.rename("/data/ro/customers.csv", "/data/ro/c.csv"))',
        'attempt("chmod", lambda: os.chmod("/data/ro/customers.csv", 0o777))',
        'attempt("delete", lambda: os.unlink("/data/ro/customers.csv"))',
        'attempt("data create", lambda: open("/data/mine.txt", "w"))',
        'attempt("data mkdir", lambda: os.mkdir("/data/other"))',
      ].join('\n'),
    );
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout.trim().split('\n')).toEqual([
      'read ok',
      'write EROFS',
      'create EROFS',
      'mkdir EROFS',
      'rename EROFS',
      'chmod EROFS',
      'delete EROFS',
      'data create EACCES',
      'data mkdir EACCES',
    ]);
    const remount = await runWith([{ name: 'ro', root: volume, path: '', readOnly: true }], 'import subprocess; print(subprocess.run(["mount", "-o", "remount,rw", "/data/ro"], capture_output=True).returncode)');
    expect(remount.stdout.trim()).not.toBe('0');
    expect(readdirSync(volume).sort()).toEqual(['customers.csv', 'reports']);
  });

  it('a narrowed attachment shows only its directory, made when missing, and a planted link leads nowhere', async () => {
    const narrowed = await runWith(
      [{ name: 'vol', root: volume, path: 'tenants/a', readOnly: false }],
      [
        'import os',
        'print(os.listdir("/data/vol"))',
        'open("/data/vol/mine.txt", "w").write("a")',
        'os.symlink("/etc", "/data/vol/escape")',
        'print(os.path.exists("/data/customers.csv"), os.path.exists("/data/vol/../customers.csv"))',
      ].join('\n'),
    );
    expect(narrowed.stderr).toBe('');
    expect(narrowed.stdout).toBe('[]\nFalse False\n');
    expect(readFileSync(join(volume, 'tenants', 'a', 'mine.txt'), 'utf8')).toBe('a');
    // A later call narrowed through the link the sandbox planted is refused before any code runs.
    await expect(runWith([{ name: 'vol', root: volume, path: 'tenants/a/escape', readOnly: true }], 'print(1)')).rejects.toThrow('(errno 40)');
    symlinkSync('/', join(volume, 'tenants', 'root-link'));
    await expect(runWith([{ name: 'vol', root: volume, path: 'tenants/root-link/etc', readOnly: true }], 'print(1)')).rejects.toThrow('(errno 40)');
  });

  it('two attachments of one call, and nothing of them left on the host once the sandbox is gone', async () => {
    const outcome = await runWith(
      [
        { name: 'a', root: volume, path: 'reports', readOnly: true },
        { name: 'b', root: volume, path: 'tenants', readOnly: false },
      ],
      'import os; print(sorted(os.listdir("/data")), os.listdir("/data/a"))',
    );
    expect(outcome.stdout).toBe("['a', 'b'] ['summary.csv']\n");
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toMatch(/\/data\/(a|b|vol|ro|company-data) /);
  });
});
