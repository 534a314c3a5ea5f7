import { statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../packages/db/src/index.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock({ keepDataDirectory: true });
});
afterAll(async () => {
  await airlock?.close();
  await airlock?.removeDataDirectory();
});

/** Executions this file's tests run to completion besides the one the last test makes. */
const alsoRecorded: Array<{ trace_id: string; stdout: string }> = [];

async function execute(json: unknown, init: { headers?: Record<string, string>; apiKey?: string | null } = {}) {
  return airlock.request('/v1/sandbox/execute', { method: 'POST', json, ...init });
}

describe('bad input is rejected with a stable code and a message naming the field', () => {
  it.each([
    [{}, /^code: /],
    [{ code: '' }, /^code: must not be empty/],
    [{ code: 42 }, /^code: /],
    [{ code: 'x'.repeat(1024 * 1024 + 1) }, /^code: at most 1048576 bytes/],
    [{ code: 'é'.repeat(600_000) }, /^code: at most 1048576 bytes/],
    [{ code: 'x', language: 'ruby' }, /^language: /],
    [{ code: 'x', timeout: 0 }, /^timeout: at least 1 second/],
    [{ code: 'x', timeout: 3601 }, /^timeout: at most 3600 seconds/],
    [{ code: 'x', timeout: 1.5 }, /^timeout: a whole number/],
    [{ code: 'x', timeout: '10' }, /^timeout: /],
    [{ code: 'x', thread_id: 'has space' }, /^thread_id: must match/],
    [{ code: 'x', thread_id: 'a'.repeat(129) }, /^thread_id: must match/],
    [{ code: 'x', metadata: { k: 1 } }, /^metadata\.k: /],
    [{ code: 'x', metadata: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'])) }, /^metadata: at most 10 keys/],
    [{ code: 'x', metadata: { ['k'.repeat(65)]: 'v' } }, /^metadata\.k+: keys are 1 to 64 characters/],
    [{ code: 'x', metadata: { k: 'v'.repeat(513) } }, /^metadata\.k: values are at most 512/],
    [{ code: 'x', env_vars: { '1BAD': 'v' } }, /^env_vars\.1BAD: names must match/],
    [{ code: 'x', env_vars: { PATH: '/evil' } }, /^env_vars\.PATH: name is reserved/],
    [{ code: 'x', env_vars: { LD_PRELOAD: '/evil.so' } }, /^env_vars\.LD_PRELOAD: name is reserved/],
    [{ code: 'x', env_vars: { home: '/x' } }, /^env_vars\.home: name is reserved/],
    [{ code: 'x', env_vars: { A: 'nul\u0000byte' } }, /^env_vars\.A: values may not contain NUL/],
    [{ code: 'x', env_vars: { A: 'v'.repeat(32 * 1024 + 1) } }, /^env_vars\.A: values are at most 32768 bytes/],
    [{ code: 'x', unexpected: true }, /^unknown field "unexpected"/],
    [{ code: 'x', sub_paths: { data: 'a' } }, /^sub_paths: .*expected array/],
    [{ code: 'x', sub_paths: ['/data/myvol/../other'] }, /^sub_paths\.0: must not contain "\." or "\.\." segments$/],
    [{ code: 'x', sub_paths: ['/data/myvol', '/data/myvol/%2e%2e'] }, /^sub_paths\.1: must not contain %2e, %2f, %5c/],
    [{ code: 'x', sub_paths: ['/etc/passwd'] }, /^sub_paths\.0: must be an absolute path under \/data/],
    [{ code: 'x', sub_paths: Array.from({ length: 17 }, (_, i) => `/data/v${i}`) }, /^sub_paths: at most 16 entries, one per mount$/],
    [
      { code: 'x', sub_paths: ['/data/myvol/sub'] },
      /^sub_paths\.0: \/data\/myvol is not mounted in this sandbox; this API key's sandbox config attaches no storage$/,
    ],
    [{ code: 'x', webhook_url: 'https://example.invalid/hook' }, /^webhook_url: needs the header Prefer: respond-async/],
    [[1, 2], /^body: /],
    ['text', /^body: /],
  ])('case %#', async (body, message) => {
    const response = await execute(body);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('validation_error');
    expect(response.body.message).toMatch(message);
    expect(response.body.request_id).toBe(response.headers.get('x-request-id'));
  });

  it('malformed JSON', async () => {
    const response = await airlock.request('/v1/sandbox/execute', { method: 'POST', body: '{"code": ', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'validation_error', message: 'body: must be a JSON object' });
  });

  it('an oversized body is 413', async () => {
    // A connection of its own: the server closes it rather than read the rest of the body.
    const body = JSON.stringify({ code: 'x'.repeat(3 * 1024 * 1024) });
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${airlock.url}/v1/sandbox/execute`, {
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${airlock.apiKey}`, 'content-type': 'application/json' },
      });
      request.on('response', (incoming) => {
        let text = '';
        incoming.on('data', (chunk: Buffer) => (text += chunk.toString()));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: text }));
      });
      request.on('error', reject);
      request.end(body);
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error).toBe('payload_too_large');
  });

  it.each([
    ['no header', null],
    ['malformed', 'not-a-key'],
    ['unknown', 'sk-local-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ])('%s key is 401', async (_, key) => {
    const response = await execute({ code: 'print(1)' }, { apiKey: key });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('unauthorized');
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="airlock"');
  });

  it.each([
    ['DELETE', '/v1/sandbox/execute', 'POST'],
    ['GET', '/v1/sandbox/execute', 'POST'],
    ['PUT', '/v1/executions/trc_00000000000000000000', 'GET, HEAD'],
    ['GET', '/v1/executions/trc_00000000000000000000/cancel', 'POST'],
    ['DELETE', '/v1/files/list', 'POST'],
  ])('%s %s is 405 with Allow: %s', async (method, path, allow) => {
    const response = await airlock.request(path, { method });
    expect([response.status, response.headers.get('allow'), response.body.error]).toEqual([405, allow, 'method_not_allowed']);
    expect(response.body.message).toBe(`${path} does not answer ${method}; it answers ${allow}`);
    // Unknown paths stay 404, and 401 still comes first.
    expect((await airlock.request(`${path}/nothing-here`, { method })).status).toBe(404);
    expect((await airlock.request(path, { method, apiKey: null })).status).toBe(401);
  });

  it('a JSON body needs a JSON Content-Type: 415 otherwise, and nothing runs', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${airlock.url}/v1/sandbox/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${airlock.apiKey}`, ...headers },
        body: JSON.stringify({ code: 'print("ran")' }),
      });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const refused = await post({ 'content-type': contentType });
      expect(refused.status, contentType).toBe(415);
      expect(await refused.json()).toMatchObject({
        error: 'unsupported_media_type',
        message: `Content-Type must be application/json (got ${JSON.stringify(contentType)}); send the body as JSON with that header`,
      });
    }
    // fetch sends a string body as text/plain unless told; without any header at all:
    const bare = await new Promise<number>((resolve, reject) => {
      const url = new URL('/v1/sandbox/execute', airlock.url);
      const body = JSON.stringify({ code: 'print(1)' });
      const sent = httpRequest(url, { method: 'POST', headers: { authorization: `Bearer ${airlock.apiKey}`, 'content-length': Buffer.byteLength(body) } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      sent.on('error', reject);
      sent.end(body);
    });
    expect(bare).toBe(415);
    const withCharset = await post({ 'content-type': 'Application/JSON; charset=utf-8' });
    const ran = (await withCharset.json()) as { stdout: string; trace_id: string };
    expect([withCharset.status, ran.stdout]).toEqual([200, 'ran\n']);
    alsoRecorded.push({ trace_id: ran.trace_id, stdout: 'ran\n' });
  });

  it('bytes that are not UTF-8 are refused naming the field, never run as replacement characters', async () => {
    const prefix = Buffer.from('{"code": "print(\'');
    const body = Buffer.concat([prefix, Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('\')", "metadata": {"k": "v"}}')]);
    const refused = await fetch(`${airlock.url}/v1/sandbox/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${airlock.apiKey}`, 'content-type': 'application/json' },
      body,
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'validation_error', message: 'code: must be valid UTF-8; the request has bytes that are not' });
    const inMetadata = Buffer.concat([Buffer.from('{"code": "print(1)", "metadata": {"k": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
    const refusedMetadata = await fetch(`${airlock.url}/v1/sandbox/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${airlock.apiKey}`, 'content-type': 'application/json' },
      body: inMetadata,
    });
    expect(((await refusedMetadata.json()) as { message: string }).message).toBe('metadata.k: must be valid UTF-8; the request has bytes that are not');
    // A real U+FFFD, sent as UTF-8, is code like any other.
    const replacement = await execute({ code: 'print("\uFFFD")' });
    expect(replacement.body).toMatchObject({ stdout: '\uFFFD\n' });
    alsoRecorded.push({ trace_id: replacement.body.trace_id as string, stdout: '\uFFFD\n' });
  });

  it('an empty sub_paths narrows nothing and the code runs', async () => {
    const response = await execute({ code: 'print("no narrowing")', sub_paths: [] });
    expect([response.status, response.body.stdout]).toEqual([200, 'no narrowing\n']);
    alsoRecorded.push({ trace_id: response.body.trace_id as string, stdout: 'no narrowing\n' });
  });

  it('authentication comes before validation', async () => {
    const response = await execute({ code: '' }, { apiKey: null });
    expect(response.status).toBe(401);
  });
});

describe('HTTP conventions', () => {
  it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
    const echoed = await airlock.request('/healthz', { headers: { 'x-request-id': 'client-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('client-123');
    const replaced = await airlock.request('/healthz', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{24}$/);
  });

  it('unknown routes and executions are 404 with the error body', async () => {
    const route = await airlock.request('/v1/nothing');
    expect(route.status).toBe(404);
    expect(route.body.error).toBe('not_found');
    const execution = await airlock.request('/v1/executions/trc_00000000000000000000000000000000');
    expect(execution.status).toBe(404);
    expect(execution.body.error).toBe('not_found');
    for (const path of ['/v1/executions/a%00b', '/v1/executions/trc_%00/output', '/v1/executions/x%C3%A9/webhook']) {
      const malformed = await airlock.request(path, { method: path.endsWith('cancel') ? 'POST' : 'GET' });
      expect({ path, status: malformed.status, error: malformed.body.error }).toEqual({ path, status: 404, error: 'not_found' });
    }
    const cancelled = await airlock.request('/v1/executions/trc_a%00/cancel', { method: 'POST' });
    expect(cancelled.status).toBe(404);
  });

  it('the data directory is traversable by the sandbox user but keeps its contents private', () => {
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(airlock.dataDirectory)).toBe(0o711);
    expect(mode(join(airlock.dataDirectory, 'pglite'))).toBe(0o700);
    // The runtime state: traversable to the homes and image roots bound into sandboxes, never listable.
    expect(mode(join(airlock.dataDirectory, 'run'))).toBe(0o711);
    expect(mode(join(airlock.dataDirectory, 'run', 'mounts'))).toBe(0o711);
    expect(mode(join(airlock.dataDirectory, 'admin-token'))).toBe(0o600);
  });

  it('health and readiness', async () => {
    expect((await airlock.request('/healthz', { apiKey: null })).body).toEqual({ status: 'ok' });
    const ready = await airlock.request('/readyz', { apiKey: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { database: true, image: true, accepting: true } });
  });

  it('rejected requests record nothing; accepted ones are recorded once', async () => {
    const accepted = await airlock.execute({ code: 'print("recorded")' });
    await airlock.close();
    const database = await openDatabase({ dataDir: join(airlock.dataDirectory, 'pglite') });
    try {
      const rows = await database.query<{ trace_id: string; stdout: string }>('SELECT trace_id, stdout FROM executions ORDER BY trace_id');
      const expected = [{ trace_id: accepted.trace_id, stdout: 'recorded\n' }, ...alsoRecorded];
      expect(rows).toEqual(expected.sort((a, b) => a.trace_id.localeCompare(b.trace_id)));
    } finally {
      await database.close();
    }
  });
});
