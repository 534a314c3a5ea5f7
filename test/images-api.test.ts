import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { ociArchive, programWithLibraries, pushLayout, startRegistry, writeOciLayout } from './support/oci-images.js';
import { until } from './support/wait.js';

// The image catalog through the admin API: imports from an uploaded archive and from a registry on loopback, calls on
// the imported image, refusals (unknown image, missing language, removing an image in use), and removal.
let airlock: AirlockFixture;
let directory: string;
let registry: Awaited<ReturnType<typeof startRegistry>>;
/** Names unique to this run: test servers share one images directory. */
const suffix = randomBytes(3).toString('hex');
const bashImage = `bash-only-${suffix}`;
const pulledImage = `pulled-${suffix}`;
let bashArchive: string;
let bashLayout: string;

interface Image {
  name: string;
  status: string;
  error: string | null;
  progress: string[];
  source: string;
  reference: string | null;
  used_by: string[];
  manifest: { version: string; digest: string | null; architecture: string; languages: Record<string, { interpreter: string; version: string }> } | null;
}

async function image(name: string): Promise<Image> {
  return (await airlock.request<Image>(`/admin/v1/images/${name}`, { apiKey: airlock.adminToken })).body;
}

/** Waits until the image's build or import has ended; returns it. */
async function settled(name: string): Promise<Image> {
  let current = await image(name);
  expect(await until(async () => (current = await image(name)).status !== 'pending', 120_000), `image ${name} still pending`).toBe(true);
  return current;
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'airlock-images-api-'));
  bashLayout = join(directory, 'bash-layout');
  await writeOciLayout(bashLayout, { layers: [[...programWithLibraries('/bin/bash'), ...programWithLibraries('/bin/cat')]] });
  bashArchive = join(directory, 'bash.tar');
  ociArchive(bashLayout, bashArchive);
  registry = await startRegistry();
  airlock = await startAirlock();
}, 120_000);

afterAll(async () => {
  await airlock?.close();
  await registry?.stop();
  if (directory) await rm(directory, { recursive: true, force: true });
});

describe('the image catalog', () => {
  it('lists the default image, ready, with its languages and versions', async () => {
    const { body } = await airlock.request<{ images: Image[] }>('/admin/v1/images', { apiKey: airlock.adminToken });
    const image = body.images.find((entry) => entry.name === 'default');
    expect(image).toMatchObject({ source: 'recipe', status: 'ready', error: null, used_by: ['default/default'] });
    expect(Object.keys(image?.manifest?.languages ?? {}).sort()).toEqual(['bash', 'node', 'python']);
    expect(image?.manifest?.architecture).toBe('amd64');
  });

  it('imports an uploaded OCI archive; a sandbox config on it runs bash and refuses python, naming what it has', async () => {
    const upload = await airlock.request<Image>(`/admin/v1/images/${bashImage}/archive`, {
      method: 'POST',
      apiKey: airlock.adminToken,
      headers: { 'content-type': 'application/x-tar' },
      body: await readFile(bashArchive),
    });
    expect(upload.status).toBe(202);
    expect(upload.body).toMatchObject({ name: bashImage, source: 'archive', status: 'pending' });
    const ready = await settled(bashImage);
    expect([ready.status, ready.error]).toEqual(['ready', null]);
    expect(Object.keys(ready.manifest?.languages ?? {})).toEqual(['bash']);
    expect(ready.manifest?.languages.bash?.version).toMatch(/^GNU bash, version 5\./);

    await airlock.admin('/admin/v1/sandboxes', { name: `bash-${suffix}`, image: bashImage });
    const { key } = (await airlock.admin('/admin/v1/api-keys', { name: 'bash', sandbox: `bash-${suffix}` })) as { key: string };
    const ran = await airlock.request<{ stdout: string; exit_code: number }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key,
      json: { language: 'bash', code: 'echo "$BASH_VERSION" > /tmp/v; cat /tmp/v; test ! -e /usr/bin/python3 && echo no-python' },
    });
    expect(ran.status).toBe(200);
    expect(ran.body.stdout).toMatch(/^5\.\d+.*\nno-python\n$/);
    const python = await airlock.request<{ error: string; message: string }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key,
      json: { language: 'python', code: 'print(1)' },
    });
    expect(python.status).toBe(400);
    expect(python.body.message).toBe(`language: "python" is not available in image "${bashImage}" (available: bash)`);

    // The MCP tool tells the model what this image runs, not what the default image has.
    const listed = await fetch(`${airlock.url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    const text = await listed.text();
    const message = JSON.parse(text.split('\n').find((line) => line.startsWith('data: '))?.slice(6) ?? text) as {
      result: { tools: Array<{ name: string; description: string }> };
    };
    const description = message.result.tools.find((tool) => tool.name === 'sandbox_execute')?.description ?? '';
    expect(description).toContain(`The sandbox runs the image "${bashImage}", which has bash (GNU bash, version 5.`);
    expect(description).toContain('use only that language.');
    expect(description).not.toContain('pandas');

    expect((await image(bashImage)).used_by).toEqual([`default/bash-${suffix}`]);
    const refused = await airlock.request<{ message: string }>(`/admin/v1/images/${bashImage}`, { method: 'DELETE', apiKey: airlock.adminToken });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(`default/bash-${suffix}`);
    await airlock.admin(`/admin/v1/sandboxes/bash-${suffix}`, { image: 'default' }, 'PATCH');
    const removed = await airlock.request(`/admin/v1/images/${bashImage}`, { method: 'DELETE', apiKey: airlock.adminToken });
    expect(removed.status).toBe(204);
    expect((await airlock.request(`/admin/v1/images/${bashImage}`, { apiKey: airlock.adminToken })).status).toBe(404);
  });

  it('pulls from a registry over plain HTTP with tls_verify false; the digest is the pushed one', async () => {
    const reference = `${registry.address}/team/bash:1`;
    pushLayout(bashLayout, reference);
    const started = await airlock.request<Image>('/admin/v1/images', {
      method: 'POST',
      apiKey: airlock.adminToken,
      json: { name: pulledImage, reference, tls_verify: false },
    });
    expect(started.status).toBe(202);
    const ready = await settled(pulledImage);
    expect([ready.status, ready.error, ready.reference]).toEqual(['ready', null, reference]);
    expect(ready.manifest?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ready.manifest?.version).toBe(ready.manifest?.digest?.slice(7, 19));
    const again = await airlock.request<{ message: string }>('/admin/v1/images', {
      method: 'POST',
      apiKey: airlock.adminToken,
      json: { name: 'default', reference, tls_verify: false },
    });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('recipe image');
    expect((await airlock.request(`/admin/v1/images/${pulledImage}`, { method: 'DELETE', apiKey: airlock.adminToken })).status).toBe(204);
  });

  it('a failed pull is failed with the reason, and records nothing else', async () => {
    const name = `missing-${suffix}`;
    const started = await airlock.request<Image>('/admin/v1/images', {
      method: 'POST',
      apiKey: airlock.adminToken,
      json: { name, reference: `${registry.address}/team/nothing:1`, tls_verify: false },
    });
    expect(started.status).toBe(202);
    const failed = await settled(name);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/nothing/);
    expect(failed.manifest).toBeNull();
    expect((await airlock.request(`/admin/v1/images/${name}`, { method: 'DELETE', apiKey: airlock.adminToken })).status).toBe(204);
  });

  it('refuses unknown images, bad references, an empty archive and removing the default image', async () => {
    const unknown = await airlock.request<{ message: string }>('/admin/v1/sandboxes', {
      method: 'POST',
      apiKey: airlock.adminToken,
      json: { name: `ghost-${suffix}`, image: 'no-such-image' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/^image: unknown image "no-such-image" \(known: .*default/);
    const badReference = await airlock.request('/admin/v1/images', {
      method: 'POST',
      apiKey: airlock.adminToken,
      json: { name: 'bad', reference: 'UPPER CASE/../x' },
    });
    expect(badReference.status).toBe(400);
    const empty = await airlock.request(`/admin/v1/images/empty-${suffix}/archive`, {
      method: 'POST',
      apiKey: airlock.adminToken,
      headers: { 'content-type': 'application/x-tar' },
      body: '',
    });
    expect(empty.status).toBe(400);
    expect((await airlock.request(`/admin/v1/images/empty-${suffix}`, { apiKey: airlock.adminToken })).status).toBe(404);
    const removeDefault = await airlock.request('/admin/v1/images/default', { method: 'DELETE', apiKey: airlock.adminToken });
    expect(removeDefault.status).toBe(409);
    expect((await airlock.request('/admin/v1/images', { apiKey: airlock.apiKey })).status).toBe(401);
  });
});

describe('a restarted server', () => {
  it('pulls again a registry image whose files it lacks, and shows an archive image it lacks as failed', async () => {
    const first = await startAirlock({ keepDataDirectory: true });
    const pulled = `repulled-${suffix}`;
    const uploaded = `uploaded-${suffix}`;
    let second: AirlockFixture | undefined;
    try {
      const reference = `${registry.address}/team/bash:restart`;
      pushLayout(bashLayout, reference);
      await first.admin('/admin/v1/images', { name: pulled, reference, tls_verify: false });
      await first.request(`/admin/v1/images/${uploaded}/archive`, {
        method: 'POST',
        apiKey: first.adminToken,
        headers: { 'content-type': 'application/x-tar' },
        body: await readFile(bashArchive),
      });
      const imagesDirectory = inject('imagesDirectory');
      const status = async (fixture: AirlockFixture, name: string) =>
        (await fixture.request<Image>(`/admin/v1/images/${name}`, { apiKey: fixture.adminToken })).body;
      expect(await until(async () => (await status(first, pulled)).status === 'ready' && (await status(first, uploaded)).status === 'ready', 60_000)).toBe(true);
      await first.close();
      // This server's disk loses both images (another node, a wiped images directory).
      for (const entry of await readdir(imagesDirectory)) {
        if (entry.startsWith(`${pulled}-`) || entry.startsWith(`${uploaded}-`)) await rm(join(imagesDirectory, entry), { recursive: true, force: true });
      }
      second = await startAirlock({ dataDirectory: first.dataDirectory });
      const server = second;
      expect(await until(async () => (await status(server, pulled)).status === 'ready', 60_000)).toBe(true);
      expect((await readdir(imagesDirectory)).some((entry) => entry.startsWith(`${pulled}-`))).toBe(true);
      expect(await status(server, uploaded)).toMatchObject({
        status: 'failed',
        error: 'not on this server (its archive was imported elsewhere or removed); upload it again',
      });
      for (const name of [pulled, uploaded]) {
        expect((await server.request(`/admin/v1/images/${name}`, { method: 'DELETE', apiKey: server.adminToken })).status).toBe(204);
      }
    } finally {
      await first.close();
      await second?.close();
      await first.removeDataDirectory();
    }
  });
});
