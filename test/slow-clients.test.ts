import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

const HEADERS_TIMEOUT_SECONDS = 1;
const BODY_TIMEOUT_SECONDS = 2;
const MAX_CONNECTIONS_PER_ADDRESS = 4;
/** Node checks headers deadlines every second; an answer may come that much after its limit, plus scheduling. */
const SLACK_MS = 1500;

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock({
    environment: {
      AIRLOCK_HEADERS_TIMEOUT_SECONDS: String(HEADERS_TIMEOUT_SECONDS),
      AIRLOCK_BODY_TIMEOUT_SECONDS: String(BODY_TIMEOUT_SECONDS),
      AIRLOCK_MAX_CONNECTIONS_PER_ADDRESS: String(MAX_CONNECTIONS_PER_ADDRESS),
    },
  });
});
afterAll(async () => {
  await airlock?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw connection to the server, from `localAddress` (a loopback alias: 127.0.0.0/8 all reaches lo). */
async function open(localAddress = '127.0.0.1'): Promise<{ socket: Socket; received(): string; closed: Promise<number> }> {
  const url = new URL(airlock.url);
  const socket = connect({ host: url.hostname, port: Number(url.port), localAddress });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  socket.setEncoding('utf8').on('data', (text: string) => (received += text));
  socket.on('error', () => {});
  const openedAt = performance.now();
  // Closed by the server within 15 s, or the test fails on what it received by then.
  socket.setTimeout(15_000, () => socket.destroy());
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - openedAt)));
  return { socket, received: () => received, closed };
}

/** An HTTP/1.1 answer as text: its status, headers (lower-case names) and body. */
function parseAnswer(text: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

function executeHead(contentLength: number, requestId: string): string {
  const url = new URL(airlock.url);
  return [
    'POST /v1/sandbox/execute HTTP/1.1',
    `Host: ${url.host}`,
    `Authorization: Bearer ${airlock.apiKey}`,
    'Content-Type: application/json',
    `Content-Length: ${contentLength}`,
    `X-Request-Id: ${requestId}`,
    '',
    '',
  ].join('\r\n');
}

async function uploadUrl(threadId: string, path: string, size: number): Promise<URL> {
  const signed = await airlock.request<{ url: string }>('/v1/files/upload_url', {
    method: 'POST',
    json: { source: 'thread', id: threadId, path, content_length: size },
  });
  expect(signed.status).toBe(200);
  return new URL(signed.body.url);
}

/** PUTs `chunks` to `url`, pausing `pauseMs` between them, then awaits the answer (which may come before the end). */
function putSlowly(url: URL, chunks: Buffer[], pauseMs: number): Promise<{ status: number; body: string; elapsedMs: number }> {
  const startedAt = performance.now();
  const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  return new Promise((resolve, reject) => {
    const put = httpRequest(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': size } });
    put.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (text: string) => (body += text));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, elapsedMs: performance.now() - startedAt }));
    });
    put.on('error', reject);
    void (async () => {
      for (const [index, chunk] of chunks.entries()) {
        if (index > 0) await sleep(pauseMs);
        if (put.destroyed) return;
        put.write(chunk);
      }
      put.end();
    })();
  });
}

describe('slow clients', () => {
  it('a client that sends part of its headers gets a bare 408 and a closed connection once the headers timeout passes', async () => {
    const connection = await open();
    connection.socket.write(`POST /v1/sandbox/execute HTTP/1.1\r\nHost: ${new URL(airlock.url).host}\r\nContent-Ty`);
    const closedAfterMs = await connection.closed;
    expect(parseAnswer(connection.received()).status).toBe(408);
    expect(closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_SECONDS * 1000 - 100);
    expect(closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_SECONDS * 1000 + SLACK_MS);
  });

  it('a JSON body that stalls is answered 408 request_timeout, with its request id, and the connection closed', async () => {
    const connection = await open();
    connection.socket.write(`${executeHead(1000, 'req-slow-body')}{"code": "pri`);
    const closedAfterMs = await connection.closed;
    const answer = parseAnswer(connection.received());
    expect(answer.status).toBe(408);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toEqual({
      error: 'request_timeout',
      message: `the request body did not arrive in full within ${BODY_TIMEOUT_SECONDS} s; send the body right after the headers, without pauses`,
      request_id: 'req-slow-body',
    });
    expect(closedAfterMs).toBeGreaterThanOrEqual(BODY_TIMEOUT_SECONDS * 1000 - 100);
    expect(closedAfterMs).toBeLessThan(BODY_TIMEOUT_SECONDS * 1000 + SLACK_MS);
  });

  it('a JSON body that trickles, a byte at a time, is cut at the body timeout all the same', async () => {
    const connection = await open();
    const body = JSON.stringify({ code: 'print(1)' });
    connection.socket.write(executeHead(body.length, 'req-trickle'));
    for (const byte of body) {
      if (connection.socket.destroyed) break;
      connection.socket.write(byte);
      await sleep(250);
    }
    await connection.closed;
    expect(parseAnswer(connection.received()).status).toBe(408);
  });

  it('a signed upload that keeps sending slowly is stored whole though it takes longer than the body timeout', async () => {
    const chunks = Array.from({ length: 12 }, (_, index) => Buffer.alloc(1000, 97 + index));
    const url = await uploadUrl('slow-upload', 'steady.bin', 12_000);
    const put = await putSlowly(url, chunks, 500);
    expect(put.status, put.body).toBe(204);
    expect(put.elapsedMs).toBeGreaterThan(BODY_TIMEOUT_SECONDS * 2000);
    const listed = await airlock.request<{ files: Array<{ path: string; size: number }> }>('/v1/files/list', {
      method: 'POST',
      json: { source: 'thread', id: 'slow-upload' },
    });
    expect(listed.body.files).toContainEqual(expect.objectContaining({ path: 'steady.bin', size: 12_000 }));
  });

  it('a signed upload that stalls is answered 408 request_timeout and the file is not stored', async () => {
    const url = await uploadUrl('stalled-upload', 'stalled.bin', 10_000);
    const put = await putSlowly(url, [Buffer.alloc(1000), Buffer.alloc(9000)], BODY_TIMEOUT_SECONDS * 1500);
    expect(put.status).toBe(408);
    expect(put.elapsedMs).toBeLessThan(BODY_TIMEOUT_SECONDS * 1000 + SLACK_MS);
    expect(JSON.parse(put.body)).toMatchObject({ error: 'request_timeout', message: expect.stringMatching(/^no bytes of the upload arrived for 2 s/) });
    const listed = await airlock.request<{ files: unknown[] }>('/v1/files/list', {
      method: 'POST',
      json: { source: 'thread', id: 'stalled-upload' },
    });
    expect(listed.body).toEqual({ files: [] });
  });

  it('connections over the cap from one address are refused with 503, while other addresses are served', async () => {
    const address = '127.0.0.3';
    const healthz = `GET /healthz HTTP/1.1\r\nHost: ${new URL(airlock.url).host}\r\n\r\n`;
    // Four connections kept alive after one request each (Node keeps an idle connection 5 s).
    const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS_PER_ADDRESS }, () => open(address)));
    for (const connection of held) connection.socket.write(healthz);
    await Promise.all(held.map((connection) => waitFor(() => connection.received().includes('\r\n\r\n'))));
    expect(held.map((connection) => parseAnswer(connection.received()).status)).toEqual([200, 200, 200, 200]);

    const refused = await open(address);
    refused.socket.write(healthz);
    await refused.closed;
    const answer = parseAnswer(refused.received());
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'unavailable', message: expect.stringMatching(/holds 4 connections/) });

    expect((await airlock.execute({ code: 'print(1)' })).stdout).toBe('1\n');

    held[0]!.socket.destroy();
    expect(await admittedWithin(1000, address, healthz)).toBe(true);
    for (const connection of held) connection.socket.destroy();
  });
});

/** Whether a new connection from `address` is served (200) within `ms`, the server having seen another one close. */
async function admittedWithin(ms: number, address: string, request: string): Promise<boolean> {
  const deadline = performance.now() + ms;
  do {
    const connection = await open(address);
    connection.socket.write(request);
    await waitFor(() => connection.received().includes('\r\n\r\n'));
    connection.socket.destroy();
    if (parseAnswer(connection.received()).status === 200) return true;
    await sleep(20);
  } while (performance.now() < deadline);
  return false;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 10_000) throw new Error('no answer within 10 s');
    await sleep(20);
  }
}
