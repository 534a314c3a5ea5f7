import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApiKey, testSandboxUid } from './support/airlock-fixture.js';
import { runCli, startServeProcess, waitForExit } from './support/cli-process.js';
import { ociArchive, programWithLibraries, writeOciLayout } from './support/oci-images.js';

describe('airlock serve, exec and keys', () => {
  let dataDirectory: string;
  let serve: Awaited<ReturnType<typeof startServeProcess>>;
  let apiKey: string;
  const uid = String(testSandboxUid());

  beforeAll(async () => {
    dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-cli-'));
    serve = await startServeProcess({ dataDirectory, environment: { AIRLOCK_SANDBOX_UID: uid, AIRLOCK_SANDBOX_GID: uid } });
    apiKey = /API key \(shown once, keep it\): (sk-local-\S+)/.exec(serve.stdout())?.[1] ?? '';
  });
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    if (serve) expect(await waitForExit(serve.child)).toBe(0);
    await rm(dataDirectory, { recursive: true, force: true });
  });

  it('first start creates a key, prints it once with a curl example', async () => {
    expect(apiKey).toMatch(/^sk-local-[A-Za-z0-9_-]{43}$/);
    expect(serve.stdout()).toContain(`curl -s ${serve.url}/v1/sandbox/execute`);
    const response = await fetch(`${serve.url}/v1/sandbox/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'print(6 * 7)' }),
    });
    expect(await response.json()).toMatchObject({ stdout: '42\n', exit_code: 0 });
  });

  it('exec runs a file or stdin and exits with the code\'s exit code', () => {
    const environment = { AIRLOCK_URL: serve.url, AIRLOCK_API_KEY: apiKey };
    const ok = runCli(['exec', '--language', 'bash', '-'], { environment, input: 'echo out; echo err >&2' });
    expect(ok).toMatchObject({ status: 0, stdout: 'out\n', stderr: 'err\n' });
    const failing = runCli(['exec', '-'], { environment, input: 'import sys; sys.exit(7)' });
    expect(failing.status).toBe(7);
    const unauthorized = runCli(['exec', '-'], { environment: { ...environment, AIRLOCK_API_KEY: 'sk-local-wrongwrongwrongwrong' }, input: 'print(1)' });
    expect(unauthorized.status).toBe(1);
    expect(unauthorized.stderr).toMatch(/^airlock: server answered 401: /);
    expect(unauthorized.stderr).not.toContain('    at ');
  });

  it('keys create, list and revoke through the admin API', () => {
    const environment = { AIRLOCK_URL: serve.url };
    const created = runCli(['keys', 'create', '--name', 'ci', '--data-dir', dataDirectory], { environment });
    expect(created.status).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^sk-local-/);
    const id = /created (key_\S+)/.exec(created.stderr)?.[1] ?? '';
    const listed = runCli(['keys', 'list', '--data-dir', dataDirectory], { environment });
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain(`${key.slice(0, 13)}...`);
    expect(listed.stdout).not.toContain(key);
    const rotated = runCli(['keys', 'rotate', id, '--data-dir', dataDirectory], { environment });
    expect([rotated.status, rotated.stderr]).toEqual([0, `rotated ${id}: the old key no longer works; the new one is shown only once\n`]);
    const rotatedKey = rotated.stdout.trim();
    expect(rotatedKey).toMatch(/^sk-local-/);
    expect(runCli(['exec', '-'], { environment: { ...environment, AIRLOCK_API_KEY: key }, input: 'print(1)' }).stderr).toMatch(/401/);
    expect(runCli(['exec', '-'], { environment: { ...environment, AIRLOCK_API_KEY: rotatedKey }, input: 'print(1)' }).stdout).toBe('1\n');
    expect(runCli(['keys', 'revoke', id, '--data-dir', dataDirectory], { environment }).status).toBe(0);
    const revokedExec = runCli(['exec', '-'], { environment: { ...environment, AIRLOCK_API_KEY: rotatedKey }, input: 'print(1)' });
    expect(revokedExec.stderr).toMatch(/401/);
    const withoutToken = runCli(['keys', 'list', '--data-dir', join(dataDirectory, 'nowhere')], { environment });
    expect(withoutToken.status).toBe(1);
    expect(withoutToken.stderr).toMatch(/^airlock: no admin token/);
  });

  it('a second server on the same data directory refuses to start', async () => {
    await expect(startServeProcess({ dataDirectory })).rejects.toThrow(/is in use by process/);
  });

  it('images import follows an archive import to its end, then remove removes it', async () => {
    const environment = { AIRLOCK_URL: serve.url };
    const name = `cli-bash-${randomBytes(3).toString('hex')}`;
    const layout = join(dataDirectory, 'bash-layout');
    // bash runs code through cat, so an image needs both.
    await writeOciLayout(layout, { layers: [[...programWithLibraries('/bin/bash'), ...programWithLibraries('/bin/cat')]] });
    const archive = join(dataDirectory, 'bash.tar');
    ociArchive(layout, archive);
    const imported = runCli(['images', 'import', name, '--archive', archive, '--data-dir', dataDirectory], { environment });
    expect(imported.stderr).toMatch(/^uploading .*bash\.tar \(\d+ MB\)$/m);
    expect(imported.stderr).toMatch(/found bash: \/bin\/bash/);
    expect([imported.status, imported.stdout]).toEqual([0, expect.stringMatching(new RegExp(`^${name}\tready\tarchive\t[0-9a-f]{12}\t[0-9]+ MB\tbash GNU bash`))]);
    const missing = runCli(['images', 'import', name, '--data-dir', dataDirectory], { environment });
    expect([missing.status, missing.stderr]).toEqual([1, 'airlock: give a registry reference (registry/name:tag) or --archive FILE\n']);
    expect(runCli(['images', 'remove', name, '--data-dir', dataDirectory], { environment })).toMatchObject({ status: 0, stderr: `removed image ${name}\n` });
    expect(runCli(['images', 'list', '--data-dir', dataDirectory], { environment }).stdout).not.toContain(name);
  });

  it('images list shows the catalog; remove refuses the default image', () => {
    const environment = { AIRLOCK_URL: serve.url };
    const listed = runCli(['images', 'list', '--data-dir', dataDirectory], { environment });
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/^default\tready\trecipe\t[0-9a-f]{12}\t\d+ MB\t.*python Python 3\.13\.\d+/m);
    // The slim recipe is built only when asked for (here, by whichever run of the suite asked first).
    expect(listed.stdout).toMatch(/^slim\t(not_built\trecipe\t-\t-\t-|ready\trecipe\t[0-9a-f]{12}\t\d+ MB\t.+)$/m);
    const removed = runCli(['images', 'remove', 'default', '--data-dir', dataDirectory], { environment });
    expect([removed.status, removed.stderr]).toEqual([1, 'airlock: server answered 409: the default image cannot be removed; sandbox configs fall back to it\n']);
  });
});

describe('start-up', () => {
  it('AIRLOCK_BOOTSTRAP_API_KEY registers exactly that key', async () => {
    const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-cli-'));
    const key = testApiKey();
    const uid = String(testSandboxUid());
    const serve = await startServeProcess({
      dataDirectory,
      environment: { AIRLOCK_BOOTSTRAP_API_KEY: key, AIRLOCK_SANDBOX_UID: uid, AIRLOCK_SANDBOX_GID: uid },
    });
    try {
      expect(serve.stdout()).toContain(key);
      const response = await fetch(`${serve.url}/v1/sandbox/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ code: 'echo ok', language: 'bash' }),
      });
      expect(await response.json()).toMatchObject({ stdout: 'ok\n' });
    } finally {
      serve.child.kill('SIGTERM');
      await waitForExit(serve.child);
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });

  it('doctor checks this host: one line per check, exit code 0', async () => {
    const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-cli-'));
    try {
      const uid = String(testSandboxUid());
      const result = runCli(['doctor', '--data-dir', dataDirectory], { environment: { AIRLOCK_SANDBOX_UID: uid, AIRLOCK_SANDBOX_GID: uid } });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const lines = result.stdout.trim().split('\n');
      expect(lines.at(-1)).toBe('Airlock can run on this host.');
      expect(lines.slice(0, -1).every((line) => /^(ok {4}|warn {2})\S/.test(line)), result.stdout).toBe(true);
      for (const check of ['bubblewrap', 'user namespaces', 'pid namespaces', 'network namespaces', 'mount namespaces', 'seccomp', 'overlayfs', 'cgroups', 'disk']) {
        expect(result.stdout).toMatch(new RegExp(`^ok {4}${check}: `, 'm'));
      }
      expect(result.stdout).toMatch(/^ok {4}image default: [0-9a-f]{12} built/m);
      // The overlay probe leaves nothing in the data directory.
      expect(await readdir(dataDirectory)).toEqual([]);
    } finally {
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });

  it('a host that cannot run Airlock: doctor says why and exits 1, serve refuses with the same line', async () => {
    const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-cli-'));
    try {
      const environment = { AIRLOCK_BWRAP_PATH: '/nonexistent/bwrap' };
      const line = 'fail  bubblewrap: not found at /nonexistent/bwrap; install it with: apt-get install -y bubblewrap';
      const doctor = runCli(['doctor', '--data-dir', dataDirectory], { environment });
      expect(doctor.status).toBe(1);
      expect(doctor.stdout).toContain(`\n${line}\n`);
      expect(doctor.stdout.trim().split('\n').at(-1)).toBe('Airlock cannot run on this host: fix the lines marked "fail".');
      const serve = runCli(['serve', '--data-dir', dataDirectory], { environment });
      expect(serve.status).toBe(1);
      expect(serve.stdout).toBe('');
      expect(serve.stderr).toBe(
        `airlock: ${line}\nairlock: this host cannot run Airlock: fix the lines marked "fail" ("airlock doctor" lists every check)\n`,
      );
    } finally {
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });

  it('a malformed AIRLOCK_BOOTSTRAP_API_KEY is one line naming the variable and the rule, never the value', () => {
    const result = runCli(['serve', '--data-dir', '/tmp/unused'], { environment: { AIRLOCK_BOOTSTRAP_API_KEY: 'sk-local-tooshort' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'airlock: AIRLOCK_BOOTSTRAP_API_KEY is invalid: an API key must look like sk-<region>-<secret>, where region is ' +
        '1-16 lowercase letters or digits and secret is 16-128 letters, digits, "_" or "-"\n',
    );
  });

  it('a failed image build is a clear message with the builder\'s last lines', async () => {
    const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-cli-'));
    try {
      // A mirror on a closed loopback port: apt fails at once, nothing leaves the machine.
      const result = runCli(['images', 'build', '--local', '--data-dir', dataDirectory], {
        environment: { AIRLOCK_IMAGES_DIR: join(dataDirectory, 'images'), AIRLOCK_IMAGE_MIRROR: 'http://127.0.0.1:9/debian' },
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/^airlock: mmdebstrap failed with exit code \d+:/m);
      expect(result.stderr).not.toContain('    at ');
      expect((await readdir(join(dataDirectory, 'images'))).filter((entry) => !entry.startsWith('.'))).toEqual([]);
    } finally {
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });

  it('a bad configuration value is one clear line, not a stack trace', () => {
    const result = runCli(['serve', '--data-dir', '/tmp/unused'], { environment: { AIRLOCK_SANDBOX_UID: 'root' } });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(/^airlock: AIRLOCK_SANDBOX_UID="root" is invalid/);
  });
});
