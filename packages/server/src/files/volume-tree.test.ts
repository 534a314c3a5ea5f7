import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../shared/api-error.js';
import { listTree, readVolumeFile, removeVolumePath, writeVolumeFile, type VolumeLocation } from './volume-tree.js';

let scratch: string;
let root: string;
/** A directory beside the volume that links planted in it point to: nothing may read or change it. */
let outside: string;
const owner = { uid: process.getuid!(), gid: process.getgid!() };

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'volume-tree-'));
  root = join(scratch, 'volume');
  outside = join(scratch, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret');
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const at = (path: string, base = ''): VolumeLocation => ({
  root,
  base: base === '' ? [] : base.split('/'),
  path: path === '' ? [] : path.split('/'),
});
const write = (location: VolumeLocation, content: string, length = Buffer.byteLength(content)) =>
  writeVolumeFile(location, { content: Readable.from([Buffer.from(content)]), length, owner });

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(() => undefined, (thrown: unknown) => thrown);
  expect(error).toBeInstanceOf(ApiError);
  return { code: (error as ApiError).code, message: (error as ApiError).message };
}

describe('listTree', () => {
  it('lists the whole subtree, sorted, with sizes; a link is an entry and is not followed', async () => {
    mkdirSync(join(root, 'reports/2025'), { recursive: true });
    writeFileSync(join(root, 'reports/2025/q1.csv'), 'a,b\n');
    symlinkSync(outside, join(root, 'escape'));
    const entries = await listTree(at(''));
    expect(entries.map(({ path, size, is_directory, name }) => ({ path, size, is_directory, name }))).toEqual([
      { path: 'escape', size: 0, is_directory: false, name: 'escape' },
      { path: 'reports', size: 0, is_directory: true, name: 'reports' },
      { path: 'reports/2025', size: 0, is_directory: true, name: '2025' },
      { path: 'reports/2025/q1.csv', size: 4, is_directory: false, name: 'q1.csv' },
    ]);
    expect(entries[0]!.modified).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await listTree(at('reports'))).map((entry) => entry.path)).toEqual(['reports/2025', 'reports/2025/q1.csv']);
  });

  it('refuses a path through a link (400), a file or a missing directory (404); an unmade key directory is empty', async () => {
    symlinkSync(outside, join(root, 'escape'));
    writeFileSync(join(root, 'file'), 'x');
    expect(await refusal(listTree(at('escape')))).toEqual({
      code: 'validation_error',
      message: expect.stringContaining('path: escape is a symbolic link'),
    });
    expect((await refusal(listTree(at('file')))).code).toBe('not_found');
    expect((await refusal(listTree(at('none')))).code).toBe('not_found');
    expect(await listTree(at('', 'tenants/a'))).toEqual([]);
  });

  it('paths are relative to the key prefix, which is never named', async () => {
    mkdirSync(join(root, 'tenants/a'), { recursive: true });
    writeFileSync(join(root, 'tenants/a/mine.txt'), 'a');
    writeFileSync(join(root, 'top.txt'), 'top');
    expect((await listTree(at('', 'tenants/a'))).map((entry) => entry.path)).toEqual(['mine.txt']);
    rmSync(join(root, 'tenants'), { recursive: true });
    mkdirSync(join(root, 'tenants'));
    symlinkSync(outside, join(root, 'tenants/a'));
    const refused = await refusal(listTree(at('', 'tenants/a')));
    expect(refused.message).toContain("this API key's directory of the volume is a symbolic link");
    expect(refused.message).not.toContain('tenants');
  });
});

describe('readVolumeFile', () => {
  it('streams a regular file, and refuses links, directories and FIFOs', async () => {
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'd/f.txt'), 'hello');
    writeFileSync(join(root, 'empty'), '');
    symlinkSync(join(outside, 'secret'), join(root, 'leak'));
    symlinkSync(outside, join(root, 'escape'));
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const file = await readVolumeFile(at('d/f.txt'));
    expect(file.size).toBe(5);
    expect(await text(file.content)).toBe('hello');
    expect(await text((await readVolumeFile(at('empty'))).content)).toBe('');
    expect((await refusal(readVolumeFile(at('leak')))).code).toBe('validation_error');
    expect((await refusal(readVolumeFile(at('escape/secret')))).code).toBe('validation_error');
    expect((await refusal(readVolumeFile(at('d')))).code).toBe('not_found');
    expect((await refusal(readVolumeFile(at('pipe')))).code).toBe('not_found');
    expect((await refusal(readVolumeFile(at('d/none')))).code).toBe('not_found');
    expect((await refusal(readVolumeFile(at('none/f')))).code).toBe('not_found');
  });
});

describe('writeVolumeFile', () => {
  it('makes missing directories, replaces a file whole, and leaves no temporary file', async () => {
    await write(at('a/b/c.txt'), 'first');
    await write(at('a/b/c.txt'), 'second');
    expect(readFileSync(join(root, 'a/b/c.txt'), 'utf8')).toBe('second');
    expect(readdirSync(join(root, 'a/b'))).toEqual(['c.txt']);
    expect(lstatSync(join(root, 'a/b')).uid).toBe(owner.uid);
    await write(at('mine.txt', 'tenants/a'), 'a');
    expect(readFileSync(join(root, 'tenants/a/mine.txt'), 'utf8')).toBe('a');
  });

  it('never writes through or onto a link, nor over a directory', async () => {
    symlinkSync(outside, join(root, 'escape'));
    symlinkSync(join(outside, 'secret'), join(root, 'leak'));
    mkdirSync(join(root, 'dir'));
    writeFileSync(join(root, 'file'), 'x');
    expect((await refusal(write(at('escape/planted.txt'), 'x'))).message).toContain('escape is a symbolic link');
    expect((await refusal(write(at('leak'), 'x'))).message).toContain('leak is a symbolic link');
    expect((await refusal(write(at('dir'), 'x'))).message).toBe('path: dir is a directory');
    expect((await refusal(write(at('file/below'), 'x'))).message).toBe('path: file is not a directory');
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect(readdirSync(root).sort()).toEqual(['dir', 'escape', 'file', 'leak']);
  });

  it('a body shorter or longer than announced changes nothing', async () => {
    await write(at('kept.txt'), 'kept');
    expect((await refusal(write(at('kept.txt'), 'short', 10))).message).toBe('body: 5 bytes received, the upload URL was made for 10');
    expect((await refusal(write(at('kept.txt'), 'much too long', 4))).message).toBe('body: more than 4 bytes, the upload URL was made for 4');
    expect(readFileSync(join(root, 'kept.txt'), 'utf8')).toBe('kept');
    expect(readdirSync(root)).toEqual(['kept.txt']);
  });
});

describe('removeVolumePath', () => {
  it('removes a file, a link (not what it points to) and a directory with everything in it, never following links', async () => {
    mkdirSync(join(root, 'tree/sub'), { recursive: true });
    writeFileSync(join(root, 'tree/sub/f'), 'x');
    symlinkSync(outside, join(root, 'tree/sub/escape'));
    symlinkSync(outside, join(root, 'escape'));
    writeFileSync(join(root, 'file'), 'x');
    await removeVolumePath(at('file'));
    await removeVolumePath(at('escape'));
    await removeVolumePath(at('tree'));
    expect(readdirSync(root)).toEqual([]);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect((await refusal(removeVolumePath(at('file')))).code).toBe('not_found');
  });

  it('refuses a path through a link', async () => {
    symlinkSync(outside, join(root, 'escape'));
    expect((await refusal(removeVolumePath(at('escape/secret')))).code).toBe('validation_error');
    expect(existsSync(join(outside, 'secret'))).toBe(true);
  });
});

describe('a link swapped in while a request walks the path', () => {
  it('is never followed: nothing is written to, listed from or removed in the directory it points to', async () => {
    // A sandbox turning `d` into a link and back as fast as it can.
    const swapper = spawn('bash', ['-c', 'cd "$1"; while :; do rm -rf d; mkdir d; touch d/f; rm -rf d; ln -s ../outside d; done', 'swapper', root], { stdio: 'ignore' });
    const seen = new Set<string>();
    try {
      for (let round = 0; round < 150; round++) {
        await write(at('d/planted'), 'x').catch(() => undefined);
        for (const entry of await listTree(at('')).catch(() => [])) seen.add(entry.path);
        await removeVolumePath(at('d/secret')).catch(() => undefined);
        await readVolumeFile(at('d/secret')).then((file) => text(file.content)).then((content) => seen.add(content), () => undefined);
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(seen.has('d/secret')).toBe(false);
    expect(seen.has('secret')).toBe(false);
  });
});
