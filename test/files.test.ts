import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

interface SignedUrl {
  url: string;
  method: string;
  headers: Array<{ name: string; value: string }>;
  expires_at: string;
}

const files = (operation: string, json: Record<string, unknown>) =>
  airlock.request<Record<string, unknown>>(`/v1/files/${operation}`, { method: 'POST', json: { source: 'thread', ...json } });

async function upload(thread: string, path: string, content: string) {
  const signed = await files('upload_url', { id: thread, path, content_length: Buffer.byteLength(content) });
  expect(signed.status).toBe(200);
  const { url, method, headers } = signed.body as unknown as SignedUrl;
  return fetch(url, { method, headers: Object.fromEntries(headers.map((h) => [h.name, h.value])), body: content });
}

async function download(thread: string, path: string) {
  const signed = await files('download_url', { id: thread, path });
  expect(signed.status).toBe(200);
  return fetch((signed.body as unknown as SignedUrl).url);
}

describe('Files API for threads', () => {
  it('a file uploaded before a call is in the home during the call; files the call writes can be listed and downloaded', async () => {
    const put = await upload('files-a', 'inputs/data.csv', 'a,b\n1,2\n');
    expect(put.status).toBe(204);
    const run = await airlock.execute({
      language: 'bash',
      thread_id: 'files-a',
      code: 'cat inputs/data.csv; mkdir -p out; echo "sum=3" > out/result.txt',
    });
    expect(run.stdout).toBe('a,b\n1,2\n');

    const listed = await files('list', { id: 'files-a' });
    const entries = listed.body.files as Array<{ path: string; size: number; is_directory: boolean; name: string }>;
    expect(entries.map((entry) => entry.path).sort()).toEqual(['inputs', 'inputs/data.csv', 'out', 'out/result.txt']);
    expect(entries.find((entry) => entry.path === 'out/result.txt')).toMatchObject({ size: 6, is_directory: false, name: 'result.txt' });
    const subtree = await files('list', { id: 'files-a', path: 'out' });
    expect((subtree.body.files as Array<{ path: string }>).map((entry) => entry.path)).toEqual(['out/result.txt']);

    const fetched = await download('files-a', 'out/result.txt');
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get('content-disposition')).toContain("filename*=UTF-8''result.txt");
    expect(await fetched.text()).toBe('sum=3\n');
  });

  it('delete removes a file from the home', async () => {
    await upload('files-b', 'old.txt', 'old');
    expect((await files('delete', { id: 'files-b', path: 'old.txt' })).status).toBe(200);
    expect((await files('delete', { id: 'files-b', path: 'old.txt' })).status).toBe(404);
    const run = await airlock.execute({ language: 'bash', thread_id: 'files-b', code: 'ls -A | wc -l' });
    expect(run.stdout).toBe('0\n');
    expect((await download('files-b', 'old.txt')).status).toBe(404);
  });

  it('signed URLs are bound to their method and file, and cannot be forged', async () => {
    await upload('files-c', 'mine.txt', 'mine');
    const { url } = (await files('download_url', { id: 'files-c', path: 'mine.txt' })).body as unknown as SignedUrl;
    expect((await fetch(url, { method: 'PUT', body: 'overwrite' })).status).toBe(403);
    const [base, token] = [url.slice(0, url.lastIndexOf('/') + 1), url.slice(url.lastIndexOf('/') + 1)];
    const [payload, mac] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, path: '../../etc/passwd' })).toString('base64url');
    expect((await fetch(`${base}${forged}.${mac}`)).status).toBe(403);
    expect((await fetch(`${base}${payload}.${mac!.slice(0, -2)}xx`)).status).toBe(403);
    expect((await fetch(`${base}garbage`)).status).toBe(403);
    // A signature of the right length in characters but not in bytes.
    expect((await fetch(`${base}${payload}.${mac!.slice(0, -1)}%C3%A9`)).status).toBe(403);
    expect(await (await fetch(url)).text()).toBe('mine');
  });

  it.each([
    ['../outside.txt'],
    ['/etc/passwd'],
    ['a/../../b'],
    ['%2e%2e/%2e%2e/etc/passwd'],
    ['a/%2E%2E/b'],
    ['a\\..\\b'],
    ['a//b'],
    ['./a'],
    ['x\u0000y'],
  ])('refuses the path %j with 400 on every operation', async (path) => {
    for (const operation of ['list', 'download_url', 'delete']) {
      const response = await files(operation, { id: 'files-d', path });
      expect([operation, response.status]).toEqual([operation, 400]);
      expect(response.body.error).toBe('validation_error');
    }
    const response = await files('upload_url', { id: 'files-d', path, content_length: 1 });
    expect(response.status).toBe(400);
  });

  it('symlinks planted in the home are never followed by downloads or uploads', async () => {
    await airlock.execute({
      language: 'bash',
      thread_id: 'files-e',
      code: 'ln -s /etc/passwd leak; ln -s ../../../.. up; mkdir real; echo real > real/file',
    });
    expect((await download('files-e', 'leak')).status).toBe(404);
    const into = await upload('files-e', 'up/planted.txt', 'x');
    expect(into.status).toBe(400);
    const run = await airlock.execute({ language: 'bash', thread_id: 'files-e', code: 'readlink leak up; cat real/file' });
    expect(run.stdout).toBe('/etc/passwd\n../../../..\nreal\n');
  });

  it('an upload whose body differs from the declared length changes nothing', async () => {
    const signed = await files('upload_url', { id: 'files-f', path: 'short.txt', content_length: 10 });
    const { url } = signed.body as unknown as SignedUrl;
    expect((await fetch(url, { method: 'PUT', body: 'only five' })).status).toBe(400);
    expect((await files('list', { id: 'files-f' })).body.files).toEqual([]);
  });

  it('an upload to a thread that is running gets 409', async () => {
    const running = airlock.execute({ language: 'bash', thread_id: 'files-g', code: 'sleep 1.5' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const put = await upload('files-g', 'late.txt', 'late');
    expect(put.status).toBe(409);
    await running;
    expect((await upload('files-g', 'late.txt', 'late')).status).toBe(204);
  });
});
