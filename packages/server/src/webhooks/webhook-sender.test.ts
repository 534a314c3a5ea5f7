import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWebhook } from './webhook-sender.js';

const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('sendWebhook', () => {
  const requests: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let port: number;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      requests.push({ headers: request.headers, body });
      response.writeHead(request.url === '/slow' ? 200 : 204);
      if (request.url !== '/slow') response.end();
    });
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('connects to the checked address of a name and signs the body', async () => {
    const lookup = async () => [{ address: '127.0.0.1', family: 4 }];
    const message = { id: 'trc_1', url: `http://receiver.test:${port}/hook`, payload: '{"a":1}', secret };
    const sent = await sendWebhook(message, { policy: { allowLoopback: true }, timeoutMs: 5000, lookup });
    expect(sent).toMatchObject({ ok: true, statusCode: 204, error: null });
    const received = requests.at(-1);
    expect(received?.headers.host).toBe(`receiver.test:${port}`);
    const headers = Object.fromEntries(Object.entries(received?.headers ?? {}).map(([name, value]) => [name, String(value)]));
    expect(new Webhook(secret).verify(received?.body ?? '', headers)).toEqual({ a: 1 });
  });

  it('re-checks the destination when it delivers: a name that now resolves to a private address is not contacted', async () => {
    const before = requests.length;
    for (const address of ['10.1.2.3', '127.0.0.1', '169.254.169.254']) {
      const lookup = async () => [{ address, family: 4 }];
      const message = { id: 'trc_2', url: `https://rebinding.test:${port}/`, payload: '{}', secret };
      const sent = await sendWebhook(message, { policy: { allowLoopback: false }, timeoutMs: 5000, lookup });
      expect(sent).toMatchObject({ ok: false, statusCode: null, error: expect.stringContaining(`destination ${address} is not allowed`) });
    }
    expect(requests.length).toBe(before);
  });

  it('gives up on a receiver that does not answer in time, and reports one that is not there', async () => {
    const slow = await sendWebhook(
      { id: 'trc_3', url: `http://127.0.0.1:${port}/slow`, payload: '{}', secret },
      { policy: { allowLoopback: true }, timeoutMs: 300 },
    );
    expect(slow).toMatchObject({ ok: false, statusCode: null, error: 'no answer within 300 ms' });
    const closed = await sendWebhook(
      { id: 'trc_4', url: 'http://127.0.0.1:1/', payload: '{}', secret },
      { policy: { allowLoopback: true }, timeoutMs: 2000 },
    );
    expect(closed).toMatchObject({ ok: false, statusCode: null, error: 'could not reach the receiver (ECONNREFUSED)' });
  });
});
