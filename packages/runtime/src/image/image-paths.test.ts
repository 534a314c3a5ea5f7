import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInImage } from './image-paths.js';

describe('resolveInImage', () => {
  let directory: string;
  let rootfs: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'airlock-image-paths-'));
    rootfs = join(directory, 'rootfs');
    await mkdir(join(rootfs, 'usr/bin'), { recursive: true });
    await writeFile(join(rootfs, 'usr/bin/python3.13'), '');
    await writeFile(join(directory, 'host-file'), '');
    await symlink('usr/bin', join(rootfs, 'bin'));
    await symlink('python3.13', join(rootfs, 'usr/bin/python3'));
    await symlink('/usr/bin/python3', join(rootfs, 'usr/bin/absolute'));
    await symlink(join(directory, 'host-file'), join(rootfs, 'usr/bin/to-host'));
    await symlink('../../../../host-file', join(rootfs, 'usr/bin/up-and-out'));
    await symlink('loop-b', join(rootfs, 'loop-a'));
    await symlink('loop-a', join(rootfs, 'loop-b'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it('resolves links as the image sees them, the last one included', async () => {
    for (const path of ['/bin/python3', 'usr/bin/absolute', '/usr/../bin/./python3']) {
      expect(await resolveInImage(rootfs, path)).toMatchObject({ hostPath: join(rootfs, 'usr/bin/python3.13'), imagePath: '/usr/bin/python3.13' });
    }
  });

  it('never leaves the image: absolute targets start at its root, .. stops there', async () => {
    expect(await resolveInImage(rootfs, '/usr/bin/to-host')).toBeNull();
    expect(await resolveInImage(rootfs, '/usr/bin/up-and-out')).toBeNull();
    await writeFile(join(rootfs, 'host-file'), '');
    expect((await resolveInImage(rootfs, '/usr/bin/up-and-out'))?.hostPath).toBe(join(rootfs, 'host-file'));
    expect((await resolveInImage(rootfs, '/../../host-file'))?.hostPath).toBe(join(rootfs, 'host-file'));
  });

  it('answers null for missing entries, files used as directories and link loops', async () => {
    for (const path of ['/usr/bin/node', '/usr/bin/python3.13/x', '/loop-a']) expect(await resolveInImage(rootfs, path)).toBeNull();
  });
});
