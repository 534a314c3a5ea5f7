import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { ImageStore } from '../packages/runtime/src/image/image-store.js';
import { parsePythonRequirements } from '../packages/runtime/src/image/python-requirements.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { until } from './support/wait.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

const DATA_STACK = ['pandas', 'numpy', 'matplotlib', 'sklearn', 'scipy', 'pyarrow', 'PIL', 'lxml', 'bs4', 'openpyxl', 'sympy', 'requests', 'httpx'];
/** The connectors' drivers: module and distribution (botocore as well: the pinned one, not a Debian package's). */
const CONNECTOR_DRIVERS: ReadonlyArray<readonly [module: string, distribution: string]> = [
  ['psycopg', 'psycopg'],
  ['pymysql', 'pymysql'],
  ['redis', 'redis'],
  ['pymongo', 'pymongo'],
  ['boto3', 'boto3'],
  ['botocore', 'botocore'],
  ['google.cloud.storage', 'google-cloud-storage'],
  ['google.cloud.bigquery', 'google-cloud-bigquery'],
  ['azure.storage.blob', 'azure-storage-blob'],
  ['azure.identity', 'azure-identity'],
];

async function pinnedWheels(): Promise<Map<string, string>> {
  const text = await readFile(new URL('../packages/runtime/images/default/python-requirements.txt', import.meta.url), 'utf8');
  return new Map(parsePythonRequirements(text).map((pin) => [pin.name, pin.version]));
}

describe('the default image', () => {
  it('runs Python 3.13', async () => {
    const result = await airlock.execute({ language: 'python', code: 'import sys; print(sys.version_info[:2], sys.executable)' });
    expect(result).toMatchObject({ exit_code: 0, stdout: '(3, 13) /usr/bin/python3\n', stderr: '' });
  });

  it('runs Node.js 24, the official build with its start-up snapshot, and npm', async () => {
    const result = await airlock.execute({
      language: 'node',
      code: 'console.log(process.versions.node.split(".")[0], process.execPath, process.config.variables.node_use_node_snapshot)',
    });
    expect(result).toMatchObject({ exit_code: 0, stdout: '24 /usr/local/bin/node true\n', stderr: '' });
    const npm = await airlock.execute({ language: 'bash', code: 'npm --version && npx --version' });
    expect(npm).toMatchObject({ exit_code: 0, stderr: '' });
    expect(npm.stdout).toMatch(/^(\d+\.\d+\.\d+)\n\1\n$/);
  });

  it('imports the data stack', async () => {
    const result = await airlock.execute({
      language: 'python',
      code: `import ${DATA_STACK.join(', ')}\nprint(pandas.DataFrame({"a": [1, 2, 3]}).a.sum(), numpy.__version__.split(".")[0])`,
    });
    expect(result).toMatchObject({ exit_code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^6 2\n$/);
  });

  it("imports the connectors' drivers at their pinned versions from the pinned wheels, psycopg with its binary libpq", async () => {
    const code = [
      'import importlib, importlib.metadata, psycopg',
      `for module, distribution in ${JSON.stringify(CONNECTOR_DRIVERS)}:`,
      '    path = importlib.import_module(module).__file__',
      '    print(distribution, importlib.metadata.version(distribution), path.startswith("/usr/local/lib/python3.13/dist-packages/"))',
      'print(psycopg.pq.__impl__)',
    ].join('\n');
    const result = await airlock.execute({ language: 'python', code });
    expect(result).toMatchObject({ exit_code: 0, stderr: '' });
    const pinned = await pinnedWheels();
    const expected = CONNECTOR_DRIVERS.map(([, distribution]) => `${distribution} ${pinned.get(distribution)} True\n`);
    expect(result.stdout).toBe(`${expected.join('')}binary\n`);
  });

  it('plots with matplotlib into the thread home without warnings, and the PNG downloads through the Files API', async () => {
    const code = [
      'import numpy as np',
      'import matplotlib.pyplot as plt',
      'x = np.linspace(0, 2 * np.pi, 200)',
      'plt.plot(x, np.sin(x))',
      'plt.title("sine")',
      'plt.savefig("plot.png")',
      'import matplotlib; print(matplotlib.get_backend())',
    ].join('\n');
    const result = await airlock.execute({ language: 'python', thread_id: 'default-image-plot', code });
    expect(result).toMatchObject({ exit_code: 0, stdout: 'Agg\n', stderr: '' });

    const files = async (operation: string, json: Record<string, unknown>) =>
      (await airlock.request(`/v1/files/${operation}`, { method: 'POST', json: { source: 'thread', id: 'default-image-plot', ...json } })).body;
    const listed = (await files('list', {})).files as Array<{ path: string; size: number }>;
    expect(listed.find((entry) => entry.path === 'plot.png')?.size).toBeGreaterThan(10_000);
    const { url } = (await files('download_url', { path: 'plot.png' })) as { url: string };
    const png = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it.each([
    ['psql', /^psql \(PostgreSQL\) 17\./],
    ['mysql', /^mysql from 11\.\d+\.\d+-MariaDB/],
    ['mariadb', /^mariadb from 11\.\d+\.\d+-MariaDB/],
    ['redis-cli', /^redis-cli \d+\.\d+\.\d+/],
    ['sqlite3', /^3\.\d+\.\d+ /],
    ['git', /^git version 2\./],
    ['gh', /^gh version 2\./],
    ['curl', /^curl 8\./],
    ['jq', /^jq-1\.\d/],
  ])('has %s', async (command, version) => {
    const result = await airlock.execute({ language: 'bash', code: `${command} --version` });
    expect(result).toMatchObject({ exit_code: 0, stderr: '' });
    expect(result.stdout).toMatch(version);
  });

  it('describes itself in its manifest: languages, C library, the data stack with licences, every Debian package', async () => {
    const image = await new ImageStore({ directory: inject('imagesDirectory') }).get('default');
    expect(image).not.toBeNull();
    const { manifest } = image!;
    expect(manifest).toMatchObject({ architecture: 'amd64', source: { kind: 'recipe', suite: 'trixie' } });
    expect(manifest.libc).toMatch(/^glibc 2\.\d+$/);
    expect(manifest.languages.python).toEqual({ interpreter: '/usr/bin/python3', version: expect.stringMatching(/^Python 3\.13\./) });
    expect(manifest.languages.node).toEqual({ interpreter: '/usr/local/bin/node', version: expect.stringMatching(/^v24\./) });
    const pandas = manifest.packages.find((entry) => entry.name === 'pandas');
    expect(pandas).toMatchObject({ ecosystem: 'python', license: 'BSD-3-Clause' });
    expect((await pinnedWheels()).get('pandas')).toBe(pandas!.version);
    expect(manifest.packages).toContainEqual(expect.objectContaining({ name: 'psycopg', ecosystem: 'python', license: 'LGPL-3.0-only' }));
    expect(manifest.packages).toContainEqual(expect.objectContaining({ name: 'postgresql-client-17', ecosystem: 'debian' }));
    expect(manifest.packages).toContainEqual(expect.objectContaining({ name: 'gh', ecosystem: 'debian' }));
    const debianPackages = await readFile(join(image!.rootfs, '..', 'debian-packages.txt'), 'utf8');
    expect(debianPackages).toMatch(/^libc6=2\.\d+-/m);
    expect(debianPackages).toMatch(/^python3\.13=3\.13\./m);
  });
});

describe('the slim image', () => {
  it('builds on request and runs Python 3.13, Node.js 24 and bash without the data stack', async () => {
    await airlock.admin('/admin/v1/images/slim/build', {});
    let image: { status: string; error: string | null } = { status: 'pending', error: null };
    const read = async () => (image = (await airlock.request<typeof image>('/admin/v1/images/slim', { apiKey: airlock.adminToken })).body);
    expect(await until(async () => (await read()).status !== 'pending', 280_000), 'image slim still pending').toBe(true);
    expect(image).toMatchObject({ status: 'ready', error: null });

    await airlock.admin('/admin/v1/sandboxes', { name: 'slim', image: 'slim' });
    const { key } = (await airlock.admin('/admin/v1/api-keys', { name: 'slim', sandbox: 'slim' })) as { key: string };
    const execute = async (language: string, code: string) =>
      (await airlock.request<{ stdout: string; stderr: string; exit_code: number }>('/v1/sandbox/execute', {
        method: 'POST',
        apiKey: key,
        json: { language, code },
      })).body;
    expect(await execute('python', 'import sys; print(sys.version_info[:2])')).toMatchObject({ exit_code: 0, stdout: '(3, 13)\n' });
    expect(await execute('node', 'console.log(process.versions.node.split(".")[0])')).toMatchObject({ exit_code: 0, stdout: '24\n' });
    const missing = await execute('bash', 'python3 -c "import numpy" 2>&1 | tail -n 1; command -v psql || echo no psql');
    expect(missing.stdout).toBe("ModuleNotFoundError: No module named 'numpy'\nno psql\n");
  }, 300_000);
});
