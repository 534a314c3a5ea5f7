import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  LayerCache,
  LayerManifestError,
  SandboxRuntime,
  decodeManifest,
  encodeManifest,
  mergeLayers,
  openLayerFile,
  scanLayer,
  type LayerManifest,
  type LayerSource,
  type SandboxLanguage,
  type SandboxLimits,
} from '../packages/runtime/src/index.js';
import { LocalBlobStore } from '../packages/storage/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { startTestRuntime } from './support/runtime-fixture.js';

const limits: SandboxLimits = { cpus: 1, memoryBytes: 512 << 20, pids: 256, tmpBytes: 64 << 20, homeBytes: 64 << 20 };
const sandboxUid = testSandboxUid();
let directory: string;
let runtime: SandboxRuntime;
let blobs: LocalBlobStore;
let cache: LayerCache;

const source: LayerSource = {
  manifest: async (digest) => decodeManifest(await blobs.read(digest)),
  blob: (digest) => blobs.get(digest),
};

beforeAll(async () => {
  ({ runtime, directory } = await startTestRuntime({
    prefix: 'airlock-layers-',
    sandboxUid,
    pool: { maxSlots: 0, maxSlotsPerKey: 0, maxConcurrentRefills: 1, idleMs: 60_000 },
  }));
  blobs = new LocalBlobStore(join(directory, 'blobs'));
  cache = new LayerCache(join(directory, 'layers'), { uid: sandboxUid, gid: sandboxUid });
  await cache.start();
});
afterAll(async () => {
  await runtime?.close();
  await rm(directory, { recursive: true, force: true });
});

/** Runs code on a home made of `layers` (digests, oldest first); returns the output and the digest of the new layer. */
async function runOnLayers(language: SandboxLanguage, code: string, layers: string[]) {
  const sandbox = await runtime.prepare({ image: 'default', language, limits });
  const lower = await Promise.all([...layers].reverse().map((digest) => cache.ensure(digest, source)));
  const changes = await sandbox.attachLayers(lower);
  let manifest: LayerManifest | undefined;
  const outcome = await sandbox.run({
    code,
    env: {},
    timeoutMs: 20_000,
    afterExit: async () => {
      manifest = await scanLayer(changes, async (path) => {
        return (await blobs.put(await openLayerFile(path))).digest;
      });
    },
  });
  const layer = (await blobs.put(encodeManifest(manifest!))).digest;
  return { outcome, manifest: manifest!, layer };
}

describe('home layers', () => {
  it('files, directories, permissions, symlinks, user packages and deletions persist through layers', async () => {
    const first = await runOnLayers(
      'bash',
      [
        'set -e',
        'mkdir -p notes/deep .local/lib/python3.13/site-packages',
        'echo "keep me" > notes/deep/a.txt',
        'echo "secret" > private.txt && chmod 600 private.txt',
        'printf "#!/bin/sh\\necho tool ran\\n" > tool.sh && chmod 755 tool.sh',
        'ln -s notes/deep/a.txt link-to-a',
        'echo "VALUE = 7" > .local/lib/python3.13/site-packages/persisted_module.py',
        'echo "export FROM_BASHRC=1" > .bashrc',
        'echo "to delete" > doomed.txt',
        'mkdir -p replaced && echo old > replaced/old.txt',
      ].join('\n'),
      [],
    );
    expect(first.outcome.stderr).toBe('');
    expect(first.outcome.exitCode).toBe(0);

    const second = await runOnLayers(
      'python',
      [
        'import os, stat, persisted_module, subprocess',
        'print(open("notes/deep/a.txt").read().strip(), persisted_module.VALUE)',
        'print(oct(stat.S_IMODE(os.stat("private.txt").st_mode)), oct(stat.S_IMODE(os.stat("tool.sh").st_mode)))',
        'print(os.readlink("link-to-a"), open("link-to-a").read().strip())',
        'print(subprocess.run(["./tool.sh"], capture_output=True, text=True).stdout.strip())',
        'os.remove("doomed.txt")',
        'import shutil; shutil.rmtree("replaced"); os.mkdir("replaced"); open("replaced/new.txt", "w").write("new")',
      ].join('\n'),
      [first.layer],
    );
    expect(second.outcome.stderr).toBe('');
    expect(second.outcome.stdout).toBe('keep me 7\n0o600 0o755\nnotes/deep/a.txt keep me\ntool ran\n');
    const changed = Object.fromEntries(second.manifest.entries.map((entry) => [entry.path, entry]));
    expect(changed['doomed.txt']).toEqual({ path: 'doomed.txt', type: 'whiteout' });
    expect(changed.replaced).toMatchObject({ type: 'directory', opaque: true });

    const check = [
      'test ! -e doomed.txt && echo doomed gone',
      'ls replaced',
      'cat notes/deep/a.txt',
      'bash -ic "echo \\$FROM_BASHRC" 2>/dev/null',
    ].join('\n');
    const third = await runOnLayers('bash', check, [first.layer, second.layer]);
    expect(third.outcome.stdout).toBe('doomed gone\nnew.txt\nkeep me\n1\n');
    expect(third.manifest.entries).toEqual([]);

    // The two layers merged into one (compaction) show the same home.
    const merged = mergeLayers([first.manifest, second.manifest]);
    expect(merged.entries.some((entry) => entry.type === 'whiteout')).toBe(false);
    const compacted = (await blobs.put(encodeManifest(merged))).digest;
    const fourth = await runOnLayers('bash', check, [compacted]);
    expect(fourth.outcome.stdout).toBe(third.outcome.stdout);
  });

  it("a removed home's directory serves a later sandbox only empty; a home that had layers is not kept", async () => {
    const homes = async () => (await readdir(join(directory, 'run', 'mounts'))).filter((name) => /^h\d+$/.test(name)).sort();
    const run = async (code: string) => {
      const sandbox = await runtime.prepare({ image: 'default', language: 'bash', limits });
      const { stdout } = await sandbox.run({ code, env: {}, timeoutMs: 20_000 });
      // Its home is removed (kept for the next) once the sandbox is torn down.
      await sandbox.destroy();
      return stdout;
    };
    expect(await run('echo secret > ~/left-behind; cat ~/left-behind')).toBe('secret\n');
    const kept = await homes();
    expect(kept).toHaveLength(1);
    for (let call = 0; call < 3; call++) expect(await run('ls -A ~ | wc -l; ls -A /data | wc -l')).toBe('0\n0\n');
    expect(await homes()).toEqual(kept);
    expect((await runOnLayers('bash', 'echo layered > ~/kept', [])).outcome.status).toBe('success');
    await vi.waitFor(async () => expect(await homes()).toEqual([]));
  });

  it('stores identical file contents once', async () => {
    const before = new Set<string>();
    for await (const blob of blobs.list()) before.add(blob.digest);
    const code = 'head -c 100000 /dev/zero > a.bin; cp a.bin b.bin; mkdir d; cp a.bin d/c.bin';
    const { manifest } = await runOnLayers('bash', code, []);
    const digests = manifest.entries.flatMap((entry) => (entry.type === 'file' ? [entry.digest] : []));
    expect(digests).toHaveLength(3);
    expect(new Set(digests).size).toBe(1);
    const added: string[] = [];
    for await (const blob of blobs.list()) if (!before.has(blob.digest)) added.push(blob.digest);
    expect(added).toHaveLength(2); // the file once, and the manifest
  });

  it('a layer file is a hard link to its local blob, unless another layer gave the blob other attributes', async () => {
    const linking: LayerSource = { ...source, localFile: (digest) => blobs.localFile(digest) };
    const content = Buffer.from(`shared bytes ${Math.random()}`);
    const { digest, size } = await blobs.put(content);
    const longAgo = Date.UTC(2020, 0, 1);
    const layerWith = async (path: string, mode: number) =>
      (await blobs.put(encodeManifest({ version: 1, entries: [{ path, type: 'file', mode, mtimeMs: longAgo, size, digest }] }))).digest;
    const first = join(await cache.ensure(await layerWith('first.txt', 0o644), linking), 'first.txt');
    const same = join(await cache.ensure(await layerWith('same.txt', 0o644), linking), 'same.txt');
    const other = join(await cache.ensure(await layerWith('other.txt', 0o600), linking), 'other.txt');
    const blobInode = (await stat(blobs.localFile(digest))).ino;
    expect(await stat(first)).toMatchObject({ ino: blobInode, uid: sandboxUid, mode: 0o100644, mtimeMs: longAgo });
    expect((await stat(same)).ino).toBe(blobInode);
    expect(await stat(other)).toMatchObject({ mode: 0o100600, uid: sandboxUid, mtimeMs: longAgo });
    expect((await stat(other)).ino).not.toBe(blobInode);
    expect(await readFile(other)).toEqual(content);
    // The linked blob's time is its layer's, long past; garbage collection goes by the time it was linked.
    for await (const blob of blobs.list()) {
      if (blob.digest === digest) expect(Date.now() - blob.storedAt.getTime()).toBeLessThan(60_000);
    }
  });

  it('a layer is materialized once per node and never through a symlink', async () => {
    const { layer } = await runOnLayers('bash', 'echo x > x.txt', []);
    const path = await cache.ensure(layer, source);
    expect(await cache.ensure(layer, source)).toBe(path);
    expect((await stat(join(path, 'x.txt'))).uid).toBe(sandboxUid);

    const hostile: LayerManifest = {
      version: 1,
      entries: [
        { path: 'escape', type: 'symlink', target: directory, mtimeMs: 0 },
        { path: 'escape/planted.txt', type: 'file', mode: 0o644, mtimeMs: 0, size: 1, digest: '0'.repeat(64) },
      ],
    };
    const digest = (await blobs.put(encodeManifest(hostile))).digest;
    await expect(cache.ensure(digest, source)).rejects.toBeInstanceOf(LayerManifestError);
    expect(await readdir(directory)).not.toContain('planted.txt');
    for (const path of ['../outside', '/etc/passwd', 'a//b', 'a/./b']) {
      expect(() => decodeManifest(Buffer.from(JSON.stringify({ version: 1, entries: [{ path, type: 'whiteout' }] })))).toThrow(
        LayerManifestError,
      );
    }
  });

  it('a symlink planted in the home is stored as a symlink, its target never read', async () => {
    const { manifest } = await runOnLayers(
      'bash',
      'ln -s /etc/passwd passwd-link; ln -s ../../.. up; mkdir real; ln -s /etc real/etc',
      [],
    );
    const byPath = Object.fromEntries(manifest.entries.map((entry) => [entry.path, entry]));
    expect(byPath['passwd-link']).toMatchObject({ type: 'symlink', target: '/etc/passwd' });
    expect(byPath.up).toMatchObject({ type: 'symlink', target: '../../..' });
    expect(byPath['real/etc']).toMatchObject({ type: 'symlink', target: '/etc' });
    expect(manifest.entries.filter((entry) => entry.type === 'file')).toEqual([]);
  });
});
