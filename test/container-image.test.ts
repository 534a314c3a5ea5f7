import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testApiKey, testSandboxUid } from './support/airlock-fixture.js';
import { waitForExit } from './support/cli-process.js';
import { buildServerImage, imageConfiguration, imageSizeBytes, containerUlimits, withImageRoot } from './support/container-image.js';
import { freePort } from './support/free-port.js';
import { instanceCgroupDirectories, processesOfUid } from './support/host-inspection.js';
import { until } from './support/wait.js';

/** The files a server writes into its data directory that hold secrets or identify one installation. */
const DATA_DIRECTORY_SECRETS = ['master-key', 'admin-token', 'url-signing-key', 'node-id'];
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----\s+[A-Za-z0-9+/=]{40}/;

/** Every entry below `directory`, not following symlinks. */
function entriesBelow(directory: string): Array<{ path: string; name: string; file: boolean }> {
  return readdirSync(directory, { recursive: true, withFileTypes: true }).map((entry) => ({
    path: join(entry.parentPath, entry.name),
    name: entry.name,
    file: entry.isFile(),
  }));
}

/**
 * The server's container image (deploy/container), built with buildah as deploy/container/build.sh builds it, then run
 * here with podman (runc) as deploy/container/README.md runs it in its privileged mode: the image's own entrypoint,
 * command and environment, the runtime images as a volume (the suite's, so nothing is built at start), the port
 * published on loopback.
 */
describe('the server container image', () => {
  let image: string;

  beforeAll(async () => {
    const built = await buildServerImage();
    image = built.image;
    process.stderr.write(`[container] ${image}: ${built.seconds.toFixed(0)} s to build or find; ${(imageSizeBytes(image) / 1e6).toFixed(0)} MB\n`);
  }, 1_260_000);

  it('is configured as documented: airlock serve on 0.0.0.0:8080, the two volumes, OCI labels', () => {
    const configuration = imageConfiguration(image);
    expect(configuration.Entrypoint).toEqual(['airlock']);
    expect(configuration.Cmd).toEqual(['serve']);
    expect(Object.keys(configuration.ExposedPorts ?? {})).toEqual(['8080/tcp']);
    expect(Object.keys(configuration.Volumes ?? {}).sort()).toEqual(['/var/lib/airlock', '/var/lib/airlock-images']);
    expect(configuration.Labels).toMatchObject({
      'org.opencontainers.image.title': 'airlock',
      'org.opencontainers.image.version': image.slice(image.lastIndexOf(':') + 1),
      'org.opencontainers.image.revision': expect.stringMatching(/^[0-9a-f]{40}$/),
    });
    // The environment is PATH and the documented defaults, nothing else (no key, token or database URL).
    expect(configuration.Env?.filter((variable) => !variable.startsWith('PATH=')).sort()).toEqual([
      'AIRLOCK_DATA_DIR=/var/lib/airlock',
      'AIRLOCK_HOST=0.0.0.0',
      'AIRLOCK_IMAGES_DIR=/var/lib/airlock-images',
      'AIRLOCK_PORT=8080',
    ]);
  });

  it('holds no secret material and no runtime image; it is under 1.5 GB', async () => {
    await withImageRoot(image, (root) => {
      expect(readdirSync(join(root, 'var/lib/airlock'))).toEqual([]);
      expect(readdirSync(join(root, 'var/lib/airlock-images'))).toEqual([]);
      const secretNames = [...DATA_DIRECTORY_SECRETS, '.npmrc', '.ssh'];
      expect(entriesBelow(root).filter((entry) => secretNames.includes(entry.name)).map((entry) => entry.path)).toEqual([]);
      expect(readdirSync(join(root, 'root')).sort()).toEqual(['.bashrc', '.profile']);
      const withPrivateKey = ['etc', 'opt', 'root', 'usr/local']
        .flatMap((directory) => entriesBelow(join(root, directory)))
        .filter((entry) => entry.file && statSync(entry.path).size < 2 ** 20 && PRIVATE_KEY.test(readFileSync(entry.path, 'latin1')))
        .map((entry) => entry.path);
      expect(withPrivateKey).toEqual([]);
    });
    // The default runtime image alone is 1.1 GiB: an image this size cannot have it baked in.
    expect(imageSizeBytes(image)).toBeLessThan(1.5e9);
  });

  describe('run with podman, privileged, in a private cgroup namespace', () => {
    const name = `airlock-test-${randomBytes(4).toString('hex')}`;
    const uid = testSandboxUid();
    const apiKey = testApiKey();
    let workspace: string;
    let dataDirectory: string;
    let url: string;
    let container: ChildProcess;
    let output = '';

    beforeAll(async () => {
      workspace = await mkdtemp(join(tmpdir(), 'airlock-container-'));
      // Like /var/lib: the sandbox user traverses it to the data directory.
      await chmod(workspace, 0o711);
      dataDirectory = join(workspace, 'data');
      await mkdir(dataDirectory, { mode: 0o755 });
      // An images volume of its own, with the suite's default image in it read-only: image locks hold process ids,
      // which mean nothing across PID namespaces, so a server in a container sharing the suite's images directory
      // would take the locks of the suite's builds for stale and remove their staging directories.
      const imagesDirectory = join(workspace, 'images');
      await mkdir(imagesDirectory, { mode: 0o755 });
      const defaultImages = readdirSync(inject('imagesDirectory')).filter((entry) => /^default-[0-9a-f]+$/.test(entry));
      const port = await freePort();
      container = spawn(
        'podman',
        [
          'run', '--rm', '--name', name,
          '--privileged', '--cgroupns=private', ...containerUlimits(),
          // A network namespace of the container's own, reaching out through slirp4netns: nothing of the host's
          // firewall changes, and the server's nftables table lives in the container.
          '--network', 'slirp4netns:port_handler=slirp4netns', '--publish', `127.0.0.1:${port}:8080`,
          '--volume', `${imagesDirectory}:/var/lib/airlock-images`,
          ...defaultImages.flatMap((entry) => ['--volume', `${join(inject('imagesDirectory'), entry)}:/var/lib/airlock-images/${entry}:ro`]),
          '--volume', `${dataDirectory}:/var/lib/airlock`,
          '--env', `AIRLOCK_BOOTSTRAP_API_KEY=${apiKey}`,
          '--env', `AIRLOCK_SANDBOX_UID=${uid}`,
          '--env', `AIRLOCK_SANDBOX_GID=${uid}`,
          image,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      container.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      container.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      expect(await until(() => /Airlock is running at/.test(output) || container.exitCode !== null, 120_000), output).toBe(true);
      expect(container.exitCode, output).toBeNull();
      url = `http://127.0.0.1:${port}`;
    }, 180_000);

    afterAll(async () => {
      if (container && container.exitCode === null) {
        spawnSync('podman', ['rm', '--force', '--time', '0', name]);
        await waitForExit(container);
      }
      await rm(workspace, { recursive: true, force: true });
    });

    it('listens on 0.0.0.0:8080 with its data in the /var/lib/airlock volume, and serves code with the bootstrap key', async () => {
      expect(output).toContain('Airlock is running at http://0.0.0.0:8080');
      for (const file of ['master-key', 'admin-token']) expect(existsSync(join(dataDirectory, file)), file).toBe(true);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const response = await fetch(`${url}/v1/sandbox/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ code: 'print(6*7)', language: 'python' }),
      });
      expect(await response.json()).toMatchObject({ stdout: '42\n', exit_code: 0, status: 'success' });
      // The fork tier, whose template needs its own seccomp program and namespace maker in the image.
      const adminToken = readFileSync(join(dataDirectory, 'admin-token'), 'utf8').trim();
      const patched = await fetch(`${url}/admin/v1/sandboxes/default`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ start: 'fork' }),
      });
      expect(patched.status, await patched.text()).toBe(200);
      const forked = await fetch(`${url}/v1/sandbox/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ code: 'import sys; print("pandas" in sys.modules, open("/proc/1/comm").read().strip())', language: 'python' }),
      });
      expect(await forked.json()).toMatchObject({ stdout: 'True airlock-init\n', exit_code: 0, status: 'success' });
      // The console's build and the API reference's bundle are in the image.
      expect((await fetch(`${url}/console/`)).status).toBe(200);
      expect((await fetch(`${url}/docs/scalar.js`)).status).toBe(200);
    });

    it('passes airlock doctor inside the container', () => {
      const doctor = spawnSync('podman', ['exec', name, 'airlock', 'doctor'], { encoding: 'utf8', timeout: 60_000 });
      expect([doctor.status, doctor.stdout], doctor.stderr).toEqual([0, expect.stringContaining('Airlock can run on this host.')]);
      expect(doctor.stdout).not.toMatch(/^fail/m);
    });

    it('stops within seconds on SIGTERM, with exit code 0, leaving no sandbox or cgroup on the host', async () => {
      const cgroupName = /"cgroupName":"(airlock-[0-9a-f]+)"/.exec(output)?.[1];
      expect(cgroupName, output).toBeDefined();
      // The server's cgroups are inside the container's; its warm sandboxes run as the sandbox uid.
      expect(instanceCgroupDirectories(cgroupName!).length).toBeGreaterThan(0);
      expect(instanceCgroupDirectories(cgroupName!).every((path) => path.includes('/libpod-'))).toBe(true);
      expect(processesOfUid(uid).length).toBeGreaterThan(0);
      const started = Date.now();
      expect(spawnSync('podman', ['kill', '--signal', 'TERM', name]).status).toBe(0);
      const code = await waitForExit(container);
      const seconds = (Date.now() - started) / 1000;
      process.stderr.write(`[container] stopped ${seconds.toFixed(2)} s after SIGTERM\n`);
      expect(code, output).toBe(0);
      expect(seconds).toBeLessThan(10);
      expect(output).toMatch(/"message":"shutting down","reason":"SIGTERM"/);
      expect(processesOfUid(uid)).toEqual([]);
      expect(instanceCgroupDirectories(cgroupName!)).toEqual([]);
      expect(spawnSync('podman', ['container', 'exists', name]).status).toBe(1);
    });
  });
});
