import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../shared/logger.js';
import type { AppEnv } from './app-context.js';
import { errorResponse } from './errors.js';
import { requestBody, wholeBody } from './whole-body.js';

const app = new Hono<AppEnv>();
app.use('*', wholeBody({ seconds: 0.3, maxBytes: 64 }));
app.all('/echo', async (context) => context.json({ bytes: Buffer.from(await requestBody(context)).toString() }));
app.post('/refuse', (context) => context.json({ error: 'unauthorized' }, 401));
app.onError((error, context) => errorResponse(context, error, silentLogger));

let server: ServerType;
let port: number;
beforeAll(async () => {
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends raw request bytes in parts, `pauseMs` apart, and returns the raw answer once the server closes or ends it. */
function raw(parts: string[], pauseMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (/\r\n\r\n[\s\S]*\}$/.test(answer)) socket.end();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    void (async () => {
      for (const part of parts) {
        // Once the answer has come the client ends its side: nothing more is written.
        if (socket.destroyed || socket.writableEnded) return;
        socket.write(part);
        await new Promise((wait) => setTimeout(wait, pauseMs));
      }
    })();
  });
}

const head = (headers: string) => `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n${headers}\r\n`;

describe.each([
  ['in process (a web stream)', (path: string, init?: RequestInit) => app.request(path, init)],
  ['over HTTP (the socket stream)', (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init)],
])('wholeBody %s', (_name, send) => {
  it('hands the handler the whole body; a request without one gets none', async () => {
    const answer = await send('/echo', { method: 'POST', body: '{"a":"bé"}', headers: { 'content-type': 'application/json' } });
    expect(await answer.json()).toEqual({ bytes: '{"a":"bé"}' });
    expect(await (await send('/echo')).json()).toEqual({ bytes: '' });
  });

  it('refuses a body over the limit with 413', async () => {
    const answer = await send('/echo', { method: 'POST', body: 'x'.repeat(65) });
    expect([answer.status, await answer.json()]).toMatchObject([413, { error: 'payload_too_large' }]);
  });
});

describe('wholeBody over HTTP', () => {
  it('refuses a chunked body once it passes the limit, and one whose Content-Length says more, before reading it', async () => {
    expect(await raw([`${head('Transfer-Encoding: chunked')}\r\n`, '28\r\n' + 'x'.repeat(40) + '\r\n', '28\r\n' + 'x'.repeat(40) + '\r\n0\r\n\r\n'], 20)).toMatch(/^HTTP\/1\.1 413/);
    expect(await raw([`${head('Content-Length: 1000')}\r\n`])).toMatch(/^HTTP\/1\.1 413/);
  });

  it('never reads the body of a request its handler refuses without reading it', async () => {
    const answer = await raw([`${head('Content-Length: 10').replace('/echo', '/refuse')}\r\n`, '{"a":'], 400);
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
  });

  it('answers a body that trickles past the deadline with 408 and closes the connection, though no pause is that long', async () => {
    const answer = await raw([`${head('Content-Length: 10')}\r\n`, '{', '"', 'a', '"', ':', '1', ' ', ' ', ' ', '}'], 60);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('request_timeout');
  });
});
