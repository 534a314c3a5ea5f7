import { spawnSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxRuntime, type Image, type ImageImportSource, type SandboxLanguage, type SandboxLimits } from '../packages/runtime/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { until } from './support/wait.js';
import {
  CRANE,
  directoryEntries,
  dockerArchive,
  ociArchive,
  programWithLibraries,
  pushLayout,
  run,
  startRegistry,
  writeOciLayout,
  writeTar,
  type LayerEntry,
} from './support/oci-images.js';

const limits: SandboxLimits = { cpus: 1, memoryBytes: 256 << 20, pids: 64, tmpBytes: 16 << 20, homeBytes: 16 << 20 };
const sandboxUid = testSandboxUid();
let directory: string;
let imagesDirectory: string;
/** A directory of the host that hostile images aim at; it holds only `sentinel` and `etc/passwd`, unchanged. */
let outside: string;
let runtime: SandboxRuntime;
let registry: Awaited<ReturnType<typeof startRegistry>>;
/** bash and cat with their libraries, copied from the host: the smallest root a sandbox runs bash in. */
let bashRoot: LayerEntry[];
let bashLayout: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'airlock-import-'));
  await chmod(directory, 0o711);
  imagesDirectory = join(directory, 'images');
  await mkdir(imagesDirectory, { mode: 0o755 });
  outside = join(directory, 'outside');
  await mkdir(join(outside, 'etc'), { recursive: true });
  await writeFile(join(outside, 'sentinel'), 'sentinel\n');
  await writeFile(join(outside, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  runtime = await SandboxRuntime.start({
    stateDirectory: join(directory, 'run'),
    imagesDirectory,
    sandboxUid,
    sandboxGid: sandboxUid,
    outputLimitBytes: 64 * 1024,
    pool: { maxSlots: 0, maxSlotsPerKey: 0, maxConcurrentRefills: 1, idleMs: 60_000 },
  });
  registry = await startRegistry();
  const byPath = new Map([...programWithLibraries('/bin/bash'), ...programWithLibraries('/bin/cat')].map((entry) => [entry.path, entry]));
  bashRoot = [...byPath.values()];
  bashLayout = await layout('bash', { layers: [bashRoot] });
});

afterAll(async () => {
  await runtime?.close();
  await registry?.stop();
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** Writes an OCI layout below the test's directory. */
async function layout(name: string, options: Parameters<typeof writeOciLayout>[1]): Promise<string> {
  const path = join(directory, 'layouts', name);
  await writeOciLayout(path, options);
  return path;
}

async function importImage(name: string, source: ImageImportSource): Promise<{ image: Image; progress: string[] }> {
  const progress: string[] = [];
  const image = await runtime.images.import(name, source, { onProgress: (line) => progress.push(line) });
  return { image, progress };
}

/** Imports and expects a refusal; answers the error and the progress lines. */
async function refusedImport(name: string, source: ImageImportSource): Promise<{ error: Error; progress: string[] }> {
  const progress: string[] = [];
  const error = await runtime.images.import(name, source, { onProgress: (line) => progress.push(line) }).then(
    () => new Error('the import succeeded'),
    (reason: unknown) => reason as Error,
  );
  expect(error.name).toBe('ImageImportError');
  return { error, progress };
}

/** Runs code on an image in a cold sandbox, as calls do. */
async function runIn(image: string, language: SandboxLanguage, code: string) {
  await runtime.loadImage(image);
  const sandbox = await runtime.prepare({ image, language, limits });
  return sandbox.run({ code, env: {}, timeoutMs: 10_000 });
}

/** Nothing of a hostile image reached the host, and no import left anything but complete images. */
async function expectNothingOutside(): Promise<void> {
  expect((await readdir(outside)).sort()).toEqual(['etc', 'sentinel']);
  expect(await readdir(join(outside, 'etc'))).toEqual(['passwd']);
  expect(await readFile(join(outside, 'sentinel'), 'utf8')).toBe('sentinel\n');
  expect((await stat(join(outside, 'sentinel'))).nlink).toBe(1);
  expect(await readFile(join(outside, 'etc', 'passwd'), 'utf8')).toBe('root:x:0:0::/root:/bin/sh\n');
  expect((await readdir(imagesDirectory)).filter((entry) => entry.startsWith('.import-'))).toEqual([]);
}

async function imageDirectories(name: string): Promise<string[]> {
  return (await readdir(imagesDirectory)).filter((entry) => entry.startsWith(`${name}-`));
}

describe('importing from a registry', () => {
  it('pulls a bash-only image, discovers bash and its C library, and runs code in it as the sandbox user', async () => {
    const reference = `${registry.address}/tiny/bash:1`;
    pushLayout(bashLayout, reference);
    const digest = run(CRANE, ['digest', '--insecure', reference]).trim();
    const started = performance.now();
    const { image, progress } = await importImage('tiny-bash', { kind: 'registry', reference, tlsVerify: false });
    console.log(`registry import of tiny-bash: ${Math.round(performance.now() - started)} ms`);

    expect(image.manifest).toMatchObject({
      name: 'tiny-bash',
      version: digest.slice('sha256:'.length, 'sha256:'.length + 12),
      source: { kind: 'registry', reference, digest },
      architecture: 'amd64',
      packages: [],
    });
    expect(image.manifest.libc).toMatch(/^glibc 2\.\d+$/);
    expect(Object.keys(image.manifest.languages)).toEqual(['bash']);
    expect(image.manifest.languages.bash).toEqual({ interpreter: '/bin/bash', version: expect.stringMatching(/^GNU bash, version 5\./) });
    expect(progress.some((line) => line.startsWith('Copying blob'))).toBe(true);
    expect(progress).toContain('found bash: /bin/bash (' + image.manifest.languages.bash!.version + ')');
    expect(await runtime.images.get('tiny-bash')).toEqual(image);

    const outcome = await runIn('tiny-bash', 'bash', [
      'echo "uid=$UID home=$HOME host=$(</etc/hostname)"',
      'while IFS= read -r line; do [[ $line == sandbox:* ]] && echo "$line"; done < /etc/passwd',
      'cd /home/baponi && pwd -P',
      'echo written > /tmp/file && echo "tmp: $(</tmp/file)"',
      'echo > /etc/hostname || echo "root is read-only"',
    ].join('\n'));
    expect(outcome.stderr).toMatch(/Read-only file system/);
    expect(outcome.stdout.split('\n')).toEqual([
      'uid=1000 home=/home/sandbox host=sandbox',
      'sandbox:x:1000:1000::/home/sandbox:/bin/bash',
      '/home/sandbox',
      'tmp: written',
      'root is read-only',
      '',
    ]);
    await expect(runtime.prepare({ image: 'tiny-bash', language: 'python', limits })).rejects.toThrow(/has no python/);
  });

  it('picks this host architecture from a multi-architecture index, finds python3 through the image PATH, and takes credentials', async () => {
    const python = run('/usr/bin/python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).trim();
    const pythonRoot: LayerEntry[] = [
      ...programWithLibraries(`/usr/bin/python${python}`, `/opt/python/bin/python${python}`),
      { path: 'opt/python/bin/python3', type: 'symlink', target: `python${python}` },
      ...(await directoryEntries(`/usr/lib/python${python}`, `/opt/python/lib/python${python}`, [
        'test', '__pycache__', 'idlelib', 'tkinter', 'ensurepip', 'lib2to3', 'pydoc_data', 'dist-packages', 'site-packages',
      ])),
    ];
    const env = ['PATH=/opt/python/bin:/usr/bin:/bin'];
    const repository = `${registry.address}/tiny/python`;
    pushLayout(await layout('python-amd64', { layers: [pythonRoot], env }), `${repository}:amd64`);
    pushLayout(await layout('python-arm64', { layers: [[{ path: 'arm64', type: 'file', content: 'x' }]], env, architecture: 'arm64' }), `${repository}:arm64`);
    run(CRANE, ['index', 'append', '--insecure', '-m', `${repository}:arm64`, '-m', `${repository}:amd64`, '-t', `${repository}:multi`]);
    const amd64Digest = run(CRANE, ['digest', '--insecure', `${repository}:amd64`]).trim();

    const { image } = await importImage('tiny-python', {
      kind: 'registry',
      reference: `${repository}:multi`,
      // This registry asks for none; they are offered in an authfile all the same (see skopeo.test.ts).
      credentials: { username: 'reader', password: 'not-asked-for' },
      tlsVerify: false,
    });
    expect(image.manifest.source).toEqual({ kind: 'registry', reference: `${repository}:multi`, digest: amd64Digest });
    expect(image.manifest.languages).toEqual({
      python: { interpreter: '/opt/python/bin/python3', version: expect.stringMatching(new RegExp(`^Python ${python.replace('.', '\\.')}\\.\\d+$`)) },
    });
    const outcome = await runIn('tiny-python', 'python', 'import os, sys\nprint(os.getuid(), sys.prefix, open("/etc/hostname").read().strip())');
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toBe('1000 /opt/python sandbox\n');
  });

  it('runs the interpreters it finds in sandboxes: as the sandbox user, without network, within a time limit', async () => {
    // Stand-ins that speak the entry points' protocol (ready on fd 4, the request on fd 3), then report what they see.
    const speaksProtocol = 'printf R >&4; while IFS= read -r -u 3 _; do :; done; printf "S\\n" >&4\n';
    const node = `#!/bin/bash\n${speaksProtocol}` +
      `net=none; (echo > /dev/tcp/${registry.address.replace(':', '/')}) 2>/dev/null && net=reached\n` +
      'echo "v1.0.0 uid=$UID host=$(</etc/hostname) net=$net"\n';
    const python = `#!/bin/bash\n${speaksProtocol}while :; do :; done\n`;
    const reference = `${registry.address}/tiny/stand-ins:1`;
    pushLayout(await layout('stand-ins', { layers: [bashRoot, [
      { path: 'usr/local/bin/node', type: 'file', content: node, mode: 0o755 },
      { path: 'usr/local/bin/python3', type: 'file', content: python, mode: 0o755 },
    ]] }), reference);
    const { image, progress } = await importImage('stand-ins', { kind: 'registry', reference, tlsVerify: false });
    expect(image.manifest.languages).toEqual({
      bash: { interpreter: '/bin/bash', version: expect.stringMatching(/^GNU bash/) },
      node: { interpreter: '/usr/local/bin/node', version: 'v1.0.0 uid=1000 host=sandbox net=none' },
    });
    expect(progress).toContain("python: /usr/local/bin/python3 does not run Airlock's python entry point, left out: timeout (exit code 137)");
  });

  it('fails clearly for an image without an interpreter, leaving nothing behind', async () => {
    const reference = `${registry.address}/tiny/empty:1`;
    pushLayout(await layout('empty', { layers: [[{ path: 'hello', type: 'file', content: 'hello' }]] }), reference);
    const { error } = await refusedImport('tiny-empty', { kind: 'registry', reference, tlsVerify: false });
    expect(error.message).toMatch(/no python3, node or bash in .*\/usr\/local\/bin:\/usr\/bin:\/bin/);
    expect(await imageDirectories('tiny-empty')).toEqual([]);
    await expectNothingOutside();
  });

  it('refuses a reference that is not one', async () => {
    const { error } = await refusedImport('bad-reference', { kind: 'registry', reference: '--src-creds=a:b', tlsVerify: false });
    expect(error.message).toMatch(/is not an image reference/);
  });
});

describe('importing from an archive', () => {
  it('takes an OCI layout tar, gzip-compressed or not, and a docker save tar', async () => {
    const archive = join(directory, 'bash-oci.tar');
    ociArchive(bashLayout, archive);
    const started = performance.now();
    const oci = await importImage('bash-oci', { kind: 'archive', path: archive });
    console.log(`archive import of bash-oci: ${Math.round(performance.now() - started)} ms`);
    const layoutDigest = JSON.parse(await readFile(join(bashLayout, 'index.json'), 'utf8')).manifests[0].digest as string;
    expect(oci.image.manifest.source).toEqual({ kind: 'archive', format: 'oci', digest: layoutDigest });
    expect(Object.keys(oci.image.manifest.languages)).toEqual(['bash']);

    run('gzip', ['--keep', archive]);
    const gzipped = await importImage('bash-oci-gz', { kind: 'archive', path: `${archive}.gz` });
    expect(gzipped.image.manifest.source).toEqual(oci.image.manifest.source);

    const dockerTar = join(directory, 'bash-docker.tar');
    dockerArchive(bashLayout, dockerTar, 'tiny/bash');
    const docker = await importImage('bash-docker', { kind: 'archive', path: dockerTar });
    expect(docker.image.manifest.source).toMatchObject({ kind: 'archive', format: 'docker', digest: expect.stringMatching(/^sha256:/) });
    expect(docker.image.manifest.languages.bash?.interpreter).toBe('/bin/bash');
    const outcome = await runIn('bash-docker', 'bash', 'echo "$BASH_VERSION"');
    expect(outcome.stdout).toMatch(/^5\./);
  });

  it('refuses a file that is neither archive', async () => {
    const file = join(directory, 'not-an-image.tar');
    run('tar', ['-C', directory, '-cf', file, 'outside']);
    const { error } = await refusedImport('not-an-image', { kind: 'archive', path: file });
    expect(error.message).toMatch(/neither an OCI image layout .* nor a docker save archive/);
    await expectNothingOutside();
  });
});

describe('versions', () => {
  it('a new import is current once complete; the old version stays while a sandbox runs on it; remove and cleanup', async () => {
    const first = await importImage('versioned', { kind: 'archive', path: join(directory, 'bash-oci.tar') });
    await runtime.loadImage('versioned');
    const running = await runtime.prepare({ image: 'versioned', language: 'bash', limits });
    await running.ready;
    const changed = await layout('bash-changed', { layers: [bashRoot, [{ path: 'etc/motd', type: 'file', content: 'changed' }]] });
    const archive = join(directory, 'bash-changed.tar');
    ociArchive(changed, archive);
    const second = await importImage('versioned', { kind: 'archive', path: archive });
    expect(second.image.manifest.version).not.toBe(first.image.manifest.version);
    expect(await runtime.images.get('versioned')).toEqual(second.image);
    const listed = (await runtime.images.list()).filter((image) => image.manifest.name === 'versioned');
    expect(listed.map((image) => [image.manifest.version, image.current])).toContainEqual([second.image.manifest.version, true]);

    // Loading the new version retires the old one: its files stay until the sandbox running on it ends.
    await runtime.loadImage('versioned');
    expect((await imageDirectories('versioned')).sort()).toEqual(
      [`versioned-${first.image.manifest.version}`, `versioned-${second.image.manifest.version}`].sort(),
    );
    const outcome = await running.run({ code: 'cat /etc/motd 2>&1 || echo no-motd', env: {}, timeoutMs: 10_000 });
    expect(outcome.stdout).toBe('cat: /etc/motd: No such file or directory\nno-motd\n');
    await running.destroy();
    expect(await until(async () => (await imageDirectories('versioned')).length === 1, 5000)).toBe(true);
    expect(await imageDirectories('versioned')).toEqual([`versioned-${second.image.manifest.version}`]);
    expect((await runIn('versioned', 'bash', 'cat /etc/motd')).stdout).toBe('changed');

    const again = await importImage('versioned', { kind: 'archive', path: archive });
    expect(again.progress).toContain(`image versioned ${second.image.manifest.version} is already imported`);
    expect(again.image).toEqual(second.image);

    // What an interrupted import or build leaves; cleanup removes it under the image's lock.
    await mkdir(join(imagesDirectory, '.import-versioned-AbC123', 'rootfs'), { recursive: true });
    await mkdir(join(imagesDirectory, '.build-default-xyz789'));
    await runtime.images.cleanup();
    expect((await readdir(imagesDirectory)).filter((entry) => entry.startsWith('.') && !entry.endsWith('.lock'))).toEqual([]);
    expect(await runtime.images.get('versioned')).toEqual(second.image);

    await runtime.removeImage('versioned');
    expect(await imageDirectories('versioned')).toEqual([]);
    expect(await runtime.images.get('versioned')).toBeNull();
    await expect(runtime.prepare({ image: 'versioned', language: 'bash', limits })).rejects.toThrow(/not loaded/);
  });
});

describe('hostile images', () => {
  /** Imports the bash root with `hostile` layers on top, from an OCI archive. */
  async function importHostile(name: string, hostile: LayerEntry[][], options: { architecture?: string } = {}) {
    const path = await layout(name, { layers: [bashRoot, ...hostile], ...options });
    const archive = join(directory, `${name}.tar`);
    ociArchive(path, archive);
    return { archive, source: { kind: 'archive', path: archive } as const };
  }

  it('keeps ../ paths and absolute names inside the image', async () => {
    const { source } = await importHostile('dotdot', [[
      { path: `../../../../../../../..${outside}/escaped`, type: 'file', content: 'escaped' },
      { path: `${outside}/absolute`, type: 'file', content: 'absolute' },
    ]]);
    const { image } = await importImage('dotdot', source);
    await expectNothingOutside();
    expect(await readFile(join(image.rootfs, outside, 'escaped'), 'utf8')).toBe('escaped');
    expect(await readFile(join(image.rootfs, outside, 'absolute'), 'utf8')).toBe('absolute');
  });

  it('resolves an absolute symbolic link inside the image when a later entry is written through it, in one layer or the next', async () => {
    const { source } = await importHostile('symlink', [
      [{ path: 'evil', type: 'symlink', target: outside }, { path: 'evil/same-layer', type: 'file', content: 'x' }],
      [{ path: 'evil/next-layer', type: 'file', content: 'x' }, { path: 'relative', type: 'symlink', target: `../../../../../../..${outside}` }],
      [{ path: 'relative/through-relative', type: 'file', content: 'x' }],
    ]);
    const { image } = await importImage('symlink', source);
    await expectNothingOutside();
    expect((await readdir(join(image.rootfs, outside))).sort()).toEqual(['next-layer', 'same-layer', 'through-relative']);
    expect(await readlink(join(image.rootfs, 'evil'))).toBe(outside);
  });

  it('refuses a hard link to a host path, and links one the image also has to the image own file', async () => {
    const refused = await importHostile('hardlink', [[{ path: 'stolen', type: 'link', target: `${outside}/sentinel` }]]);
    const { error } = await refusedImport('hardlink', refused.source);
    expect(error.message).toMatch(/umoci failed/);
    expect(await imageDirectories('hardlink')).toEqual([]);
    await expectNothingOutside();

    const hostBash = await stat('/bin/bash');
    const inside = await importHostile('hardlink-inside', [[{ path: 'bash-again', type: 'link', target: '/bin/bash' }]]);
    const { image } = await importImage('hardlink-inside', inside.source);
    const linked = await stat(join(image.rootfs, 'bash-again'));
    expect(linked.ino).toBe((await stat(join(image.rootfs, 'bin/bash'))).ino);
    expect(linked.ino).not.toBe(hostBash.ino);
    expect((await stat('/bin/bash')).nlink).toBe(hostBash.nlink);
  });

  it('clears setuid and setgid bits and drops file capabilities', async () => {
    // security.capability v2: magic 0x02000001, permitted cap_net_raw (13), nothing inherited.
    const capability = '\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00';
    const { source } = await importHostile('setuid', [[
      { path: 'usr/bin/rootshell', type: 'file', content: '#!/bin/bash\n', mode: 0o4755 },
      { path: 'usr/bin/groupshell', type: 'file', content: '#!/bin/bash\n', mode: 0o2755 },
      { path: 'usr/bin/raw', type: 'file', content: '#!/bin/bash\n', mode: 0o755, xattrs: { 'security.capability': capability } },
    ]]);
    const { image, progress } = await importImage('setuid', source);
    for (const name of ['rootshell', 'groupshell', 'raw']) {
      const { mode, uid, gid } = await stat(join(image.rootfs, 'usr/bin', name));
      expect([mode & 0o7777, uid, gid]).toEqual([0o755, 0, 0]);
    }
    expect(run('getcap', [join(image.rootfs, 'usr/bin/raw')]).trim()).toBe('');
    expect(progress).toEqual(expect.arrayContaining([
      'neutralised /usr/bin/rootshell: setuid bit cleared',
      'neutralised /usr/bin/groupshell: setgid bit cleared',
      'neutralised /usr/bin/raw: file capabilities dropped',
    ]));
  });

  it('removes device nodes, FIFOs and whiteout-like devices', async () => {
    const { source } = await importHostile('devices', [[
      { path: 'dev/sda', type: 'block-device', major: 8, minor: 0 },
      { path: 'dev/mem', type: 'character-device', major: 1, minor: 1 },
      { path: 'whiteout', type: 'character-device', major: 0, minor: 0 },
      { path: 'pipe', type: 'fifo' },
    ]]);
    const { image, progress } = await importImage('devices', source);
    expect(await readdir(join(image.rootfs, 'dev'))).toEqual(['shm']);
    for (const path of ['whiteout', 'pipe']) await expect(lstat(join(image.rootfs, path))).rejects.toThrow(/ENOENT/);
    expect(progress).toEqual(expect.arrayContaining([
      'neutralised /dev/sda: block device removed',
      'neutralised /dev/mem: character device removed',
      'neutralised /whiteout: character device removed',
      'neutralised /pipe: FIFO removed',
    ]));
  });

  it('refuses another architecture before unpacking anything', async () => {
    const { source } = await importHostile('arm64', [], { architecture: 'arm64' });
    const { error, progress } = await refusedImport('arm64', source);
    expect(error.message).toMatch(/the image is for linux\/arm64; this server runs linux\/amd64/);
    expect(progress).not.toContain('unpacking the layers');
    expect(await imageDirectories('arm64')).toEqual([]);
  });

  it('never writes through an /etc the image links elsewhere', async () => {
    const { source } = await importHostile('etc-link', [[{ path: 'etc', type: 'symlink', target: join(outside, 'etc') }]]);
    const { image, progress } = await importImage('etc-link', source);
    await expectNothingOutside();
    expect((await lstat(join(image.rootfs, 'etc'))).isDirectory()).toBe(true);
    expect(await readFile(join(image.rootfs, 'etc/passwd'), 'utf8')).toBe('root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000::/home/sandbox:/bin/bash\n');
    expect(progress).toContain(`prepared the sandbox root: /etc: replaced a symbolic link to ${join(outside, 'etc')}`);
    expect((await runIn('etc-link', 'bash', 'echo "$(</etc/hostname)"')).stdout).toBe('sandbox\n');
  });

  it('reads only the layout files of an OCI archive: its own links are never followed', async () => {
    const path = join(directory, 'layouts', 'bash');
    const layoutFiles: LayerEntry[] = [];
    for (const name of ['oci-layout', 'index.json']) layoutFiles.push({ path: name, type: 'file', content: await readFile(join(path, name)) });
    for (const blob of await readdir(join(path, 'blobs/sha256'))) {
      layoutFiles.push({ path: `blobs/sha256/${blob}`, type: 'file', content: await readFile(join(path, 'blobs/sha256', blob)) });
    }
    const archive = join(directory, 'hostile-outer.tar');
    await writeTar(archive, [
      { path: 'blobs', type: 'symlink', target: outside },
      { path: 'evil', type: 'symlink', target: outside },
      { path: 'evil/through', type: 'file', content: 'x' },
      { path: `../../../../../..${outside}/dotdot`, type: 'file', content: 'x' },
      { path: 'index.json', type: 'link', target: `${outside}/sentinel` },
      ...layoutFiles,
    ]);
    const { image } = await importImage('outer-archive', { kind: 'archive', path: archive });
    expect(Object.keys(image.manifest.languages)).toEqual(['bash']);
    await expectNothingOutside();
  });
});

describe('probes', () => {
  it('leaves no probe mount behind', () => {
    const mounts = spawnSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).stdout;
    expect(mounts.split('\n').filter((target) => target.includes('image-.probe'))).toEqual([]);
  });
});
