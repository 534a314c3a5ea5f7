import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testSandboxUid } from './support/airlock-fixture.js';
import { waitForExit } from './support/cli-process.js';
import { instanceCgroupDirectories, mountsBelow, processesMentioning, processesOfUid } from './support/host-inspection.js';
import { until } from './support/wait.js';

const repository = fileURLToPath(new URL('..', import.meta.url));

/** The README's first command: the set-up, then the command that brings Airlock up. */
function readmeQuickstart(): { setup: string; serve: string[] } {
  const readme = readFileSync(join(repository, 'README.md'), 'utf8');
  const line = /^## Quickstart[^\n]*\n+```sh\n([^\n]+)\n```/m.exec(readme)?.[1];
  const [setup, serve] = line?.split(' && ') ?? [];
  if (!setup || !serve) throw new Error('README.md has no "## Quickstart" block of the form "<set-up> && <serve>"');
  return { setup, serve: serve.split(' ') };
}

/**
 * A new user's first minutes, on a fresh clone of this repository's HEAD: the README's set-up, then its serve command
 * with --port and --data-dir added. The clone shares nothing with this checkout (its own node_modules and build) but
 * the runtime image, through AIRLOCK_IMAGES_DIR: building it again would take a minute and test nothing new here.
 */
describe('the README quickstart on a fresh clone', () => {
  const quickstart = readmeQuickstart();
  let workspace: string;
  let clone: string;
  let dataDirectory: string;
  let serve: ChildProcess | undefined;
  let output = '';
  const uid = testSandboxUid();

  beforeAll(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'airlock-fresh-'));
    // Like /var/lib: the sandbox user traverses it to the data directory.
    await chmod(workspace, 0o711);
    clone = join(workspace, 'airlock');
    dataDirectory = join(workspace, 'data');
    const cloned = spawnSync('git', ['clone', '--quiet', repository, clone], { encoding: 'utf8' });
    expect(cloned.status, cloned.stderr).toBe(0);
    const setup = spawnSync('bash', ['-c', quickstart.setup], { cwd: clone, encoding: 'utf8', env: userEnvironment(), timeout: 540_000 });
    expect(setup.status, `${setup.stdout}\n${setup.stderr}`).toBe(0);
    await mkdir(dataDirectory);
  }, 600_000);

  afterAll(async () => {
    if (serve && serve.exitCode === null) serve.kill('SIGKILL');
    await until(() => processesMentioning(dataDirectory).length === 0, 10_000);
    await rm(workspace, { recursive: true, force: true });
  });

  /** The user's environment: no AIRLOCK_* of the developer's, the suite's image, a sandbox uid of this test's own. */
  function userEnvironment(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CI: process.env.CI,
      AIRLOCK_IMAGES_DIR: inject('imagesDirectory'),
      AIRLOCK_SANDBOX_UID: String(uid),
      AIRLOCK_SANDBOX_GID: String(uid),
    };
  }

  it(`"${quickstart.setup} && ${quickstart.serve.join(' ')}" serves code with the key it prints`, async () => {
    const [command, ...args] = quickstart.serve;
    serve = spawn(command!, [...args, '--port', '0', '--data-dir', dataDirectory], {
      cwd: clone,
      env: userEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    serve.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    serve.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    expect(await until(() => /Airlock is running at http:\/\/\S+/.test(output) || serve!.exitCode !== null, 120_000), output).toBe(true);
    const url = /Airlock is running at (http:\/\/\S+)/.exec(output)?.[1];
    const key = /API key \(shown once, keep it\): (sk-local-\S+)/.exec(output)?.[1];
    expect([url, key], output).toEqual([expect.any(String), expect.any(String)]);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const response = await fetch(`${url}/v1/sandbox/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'print(6*7)' }),
    });
    expect(await response.json()).toMatchObject({ stdout: '42\n', exit_code: 0 });

    // The console sign-in link it prints signs the owner in once.
    const link = /Console sign-in for the owner \(owner@airlock\.local; works once, until \S+\):\n {2}(http:\/\/\S+)/.exec(output)?.[1];
    expect(link, output).toMatch(/\/auth\/link\/[A-Za-z0-9_-]{43}$/);
    const signedIn = await fetch(link ?? '', { method: 'POST', redirect: 'manual' });
    expect(signedIn.status).toBe(302);
    const session = /airlock_session=([^;]+)/.exec(signedIn.headers.getSetCookie().join())?.[1];
    const me = await fetch(`${url}/admin/v1/me`, { headers: { cookie: `airlock_session=${session}` } });
    expect(await me.json()).toMatchObject({ actor: 'owner@airlock.local', instance_role: 'owner' });
    expect((await fetch(link ?? '', { method: 'POST', redirect: 'manual' })).status).toBe(403);
  });

  it('SIGTERM to the npx process stops the server: no process, sandbox, mount or cgroup is left', async () => {
    expect(serve?.exitCode, output).toBeNull();
    const cgroupName = /"cgroupName":"(airlock-[0-9a-f]+)"/.exec(output)?.[1];
    expect(cgroupName).toBeDefined();
    expect(instanceCgroupDirectories(cgroupName!).length).toBeGreaterThan(0);
    // Warm sandboxes are waiting for code, and the server, PGlite and the spawner name the data directory.
    expect(processesOfUid(uid).length).toBeGreaterThan(0);
    expect(processesMentioning(dataDirectory).length).toBeGreaterThanOrEqual(3);
    serve!.kill('SIGTERM');
    await waitForExit(serve!);
    const left = () => ({
      processes: processesMentioning(dataDirectory),
      sandboxes: processesOfUid(uid),
      mounts: mountsBelow(dataDirectory),
      cgroups: instanceCgroupDirectories(cgroupName!),
    });
    const nothing = { processes: [], sandboxes: [], mounts: [], cgroups: [] };
    await until(() => JSON.stringify(left()) === JSON.stringify(nothing), 5_000);
    expect(left()).toEqual(nothing);
    expect(output).toMatch(/"message":"shutting down","reason":"parent process exited"/);
  });
});
