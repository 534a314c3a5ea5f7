import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unpackOciArchive } from './oci-archive.js';

const BLOB = `blobs/sha256/${'a'.repeat(64)}`;

async function writeArchive(path: string, entries: Array<Partial<Header> & { name: string; content?: string }>, gzip = false): Promise<void> {
  const archive = pack();
  const written = gzip ? pipeline(archive, createGzip(), createWriteStream(path)) : pipeline(archive, createWriteStream(path));
  for (const { content, ...header } of entries) archive.entry(header, content ?? '');
  archive.finalize();
  await written;
}

describe('unpackOciArchive', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'airlock-oci-archive-'));
  });
  afterEach(() => rm(directory, { recursive: true, force: true }));

  it('writes only the layout files, read past links, other names and .. paths', async () => {
    const archive = join(directory, 'image.tar');
    await writeArchive(archive, [
      { name: 'blobs', type: 'symlink', linkname: '/etc' },
      { name: 'index.json', type: 'link', linkname: '/etc/passwd' },
      { name: '../escape', type: 'file', content: 'x' },
      { name: './blobs/sha256/../../../escape', type: 'file', content: 'x' },
      { name: './oci-layout', type: 'file', content: '{}' },
      { name: './index.json', type: 'file', content: '{"manifests":[]}' },
      { name: `./${BLOB}`, type: 'file', content: 'blob' },
      { name: 'README', type: 'file', content: 'x' },
    ], true);
    const layout = join(directory, 'layout');
    expect(await unpackOciArchive(archive, layout)).toBe('oci');
    expect((await readdir(layout, { recursive: true })).sort()).toEqual(['blobs', 'blobs/sha256', BLOB, 'index.json', 'oci-layout']);
    expect(await readFile(join(layout, BLOB), 'utf8')).toBe('blob');
    expect((await readdir(directory)).sort()).toEqual(['image.tar', 'layout']);
  });

  it('tells a docker save archive, refuses a layout file twice and what is neither', async () => {
    const docker = join(directory, 'docker.tar');
    await writeArchive(docker, [{ name: 'manifest.json', type: 'file', content: '[]' }, { name: 'abc/layer.tar', type: 'file', content: '' }]);
    expect(await unpackOciArchive(docker, join(directory, 'docker-layout'))).toBe('docker');
    expect(await readdir(directory)).not.toContain('docker-layout');

    const twice = join(directory, 'twice.tar');
    await writeArchive(twice, [{ name: 'index.json', type: 'file', content: '{}' }, { name: 'index.json', type: 'file', content: '{}' }]);
    await expect(unpackOciArchive(twice, join(directory, 'twice'))).rejects.toThrow(/holds index.json twice/);

    const neither = join(directory, 'neither.tar');
    await writeArchive(neither, [{ name: 'hello', type: 'file', content: 'x' }]);
    await expect(unpackOciArchive(neither, join(directory, 'neither'))).rejects.toThrow(/neither an OCI image layout/);
  });
});
