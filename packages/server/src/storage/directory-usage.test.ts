import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { measureDirectory, MeasurementTimeoutError } from './directory-usage.js';

let root: string;
let outside: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-usage-'));
  outside = await mkdtemp(join(tmpdir(), 'airlock-usage-outside-'));
  await writeFile(join(outside, 'big'), Buffer.alloc(100_000));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('measureDirectory', () => {
  it("sums regular files' apparent sizes in every directory", async () => {
    await writeFile(join(root, 'a'), Buffer.alloc(10));
    await mkdir(join(root, 'd/e'), { recursive: true });
    await writeFile(join(root, 'd/b'), Buffer.alloc(200));
    await writeFile(join(root, 'd/e/c'), Buffer.alloc(3000));
    await writeFile(join(root, 'empty'), '');
    expect(await measureDirectory(root, 5_000)).toBe(3210);
  });

  it('follows no symbolic link, to a directory or a file, and counts links as nothing', async () => {
    await writeFile(join(root, 'a'), Buffer.alloc(10));
    await symlink(outside, join(root, 'to-directory'));
    await symlink(join(outside, 'big'), join(root, 'to-file'));
    await symlink(join(root, 'a'), join(root, 'to-own-file'));
    await symlink('.', join(root, 'loop'));
    expect(await measureDirectory(root, 5_000)).toBe(10);
  });

  it('counts a file with several hard links once', async () => {
    await mkdir(join(root, 'd'));
    await writeFile(join(root, 'a'), Buffer.alloc(500));
    await link(join(root, 'a'), join(root, 'd/same'));
    await link(join(root, 'a'), join(root, 'again'));
    expect(await measureDirectory(root, 5_000)).toBe(500);
  });

  it('is 0 for a missing directory, and a root that is a link is not followed', async () => {
    expect(await measureDirectory(join(root, 'missing'), 5_000)).toBe(0);
    await symlink(outside, join(root, 'link'));
    expect(await measureDirectory(join(root, 'link'), 5_000)).toBe(0);
  });

  it('gives up past its time budget', async () => {
    for (let index = 0; index < 50; index++) await writeFile(join(root, `f${index}`), 'x');
    await expect(measureDirectory(root, -1)).rejects.toBeInstanceOf(MeasurementTimeoutError);
  });
});
