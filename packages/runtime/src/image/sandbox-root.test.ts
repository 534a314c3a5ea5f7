import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareSandboxRoot } from './sandbox-root.js';

describe('prepareSandboxRoot', () => {
  let directory: string;
  let rootfs: string;
  let outside: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'airlock-sandbox-root-'));
    rootfs = join(directory, 'rootfs');
    outside = join(directory, 'outside');
    await mkdir(rootfs);
    await mkdir(outside);
    await writeFile(join(outside, 'passwd'), 'host:x:0:0::/:/bin/sh\n');
  });
  afterEach(() => rm(directory, { recursive: true, force: true }));

  it('gives an image without /etc the mount points, the sandbox user and the files a recipe image has', async () => {
    expect(await prepareSandboxRoot(rootfs)).toEqual([]);
    for (const path of ['proc', 'dev/shm', 'tmp', 'home/sandbox', 'data', 'run', 'etc']) {
      expect((await stat(join(rootfs, path))).mode & 0o777).toBe(0o755);
    }
    expect(await readFile(join(rootfs, 'etc/passwd'), 'utf8')).toBe('root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000::/home/sandbox:/bin/sh\n');
    expect(await readFile(join(rootfs, 'etc/group'), 'utf8')).toBe('root:x:0:\nsandbox:x:1000:\n');
    expect(await readFile(join(rootfs, 'etc/hostname'), 'utf8')).toBe('sandbox\n');
    expect(await readFile(join(rootfs, 'etc/hosts'), 'utf8')).toContain('127.0.1.1 sandbox\n');
    expect(await readFile(join(rootfs, 'etc/resolv.conf'), 'utf8')).toBe('');
    expect(await readlink(join(rootfs, 'home/baponi'))).toBe('sandbox');
  });

  it('takes the place of an account with the id or name, keeping the others', async () => {
    await mkdir(join(rootfs, 'etc'));
    await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/ash\nnode:x:1000:1000::/home/node:/bin/sh\nsandbox:x:1001:1001::/:/bin/sh\n');
    await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
    const notes = await prepareSandboxRoot(rootfs);
    expect(await readFile(join(rootfs, 'etc/passwd'), 'utf8')).toBe('root:x:0:0:root:/root:/bin/ash\nsandbox:x:1000:1000::/home/sandbox:/bin/sh\n');
    expect(await readFile(join(rootfs, 'etc/group'), 'utf8')).toBe('root:x:0:\nsandbox:x:1000:\n');
    expect(notes).toEqual([
      '/etc/passwd: "node" (id 1000) replaced by sandbox (1000)',
      '/etc/passwd: "sandbox" (id 1001) replaced by sandbox (1000)',
      '/etc/group: "node" (id 1000) replaced by sandbox (1000)',
    ]);
  });

  it('replaces links the image planted instead of writing through them', async () => {
    await mkdir(join(rootfs, 'etc'), { mode: 0o700 });
    await symlink(join(outside, 'passwd'), join(rootfs, 'etc/passwd'));
    await symlink(join(outside, 'resolv.conf'), join(rootfs, 'etc/resolv.conf'));
    await symlink(outside, join(rootfs, 'home'));
    await symlink(outside, join(rootfs, 'tmp'));
    const notes = await prepareSandboxRoot(rootfs);
    expect(await readFile(join(outside, 'passwd'), 'utf8')).toBe('host:x:0:0::/:/bin/sh\n');
    expect((await lstat(join(outside, 'resolv.conf')).catch(() => null))).toBeNull();
    for (const path of ['home', 'tmp', 'etc']) expect((await lstat(join(rootfs, path))).isDirectory()).toBe(true);
    expect((await lstat(join(rootfs, 'etc/passwd'))).isFile()).toBe(true);
    expect(notes).toEqual(expect.arrayContaining([
      `/tmp: replaced a symbolic link to ${outside}`,
      `/home: replaced a symbolic link to ${outside}`,
      '/etc: made readable and traversable by the sandbox user',
      `/etc/resolv.conf: replaced a symbolic link to ${join(outside, 'resolv.conf')}`,
      `/etc/passwd: replaced a symbolic link to ${join(outside, 'passwd')}`,
    ]));
  });
});
