import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookSender, type WebhookSenderOptions } from './webhook-sender.js';

const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('WebhookSender', () => {
  const requests: Array<{ headers: IncomingHttpHeaders; body: string; connection: number }> = [];
  const connections = new Map<Socket, number>();
  let port: number;
  /** Requests still to be answered by resetting their connection (a receiver closing an idle connection late). */
  let resets = 0;
  const server = createServer((request, response) => {
    if (resets > 0) {
      resets--;
      request.socket.resetAndDestroy();
      return;
    }
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      requests.push({ headers: request.headers, body, connection: connections.get(request.socket) ?? -1 });
      response.writeHead(request.url === '/slow' ? 200 : 204);
      if (request.url !== '/slow') response.end();
    });
  });
  server.on('connection', (socket: Socket) => connections.set(socket, connections.size));
  const senders: WebhookSender[] = [];
  const sender = (options: Partial<WebhookSenderOptions> = {}) => {
    const made = new WebhookSender({ policy: { allowLoopback: true }, timeoutMs: 5000, ...options });
    senders.push(made);
    return made;
  };

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(() => {
    for (const made of senders.splice(0)) made.close();
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('connects to the checked address of a name and signs the body', async () => {
    const lookup = async () => [{ address: '127.0.0.1', family: 4 }];
    const message = { id: 'trc_1', url: `http://receiver.test:${port}/hook`, payload: '{"a":1}', secret };
    const sent = await sender({ lookup }).send(message);
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
      const sent = await sender({ policy: { allowLoopback: false }, lookup }).send(message);
      expect(sent).toMatchObject({ ok: false, statusCode: null, error: expect.stringContaining(`destination ${address} is not allowed`) });
    }
    expect(requests.length).toBe(before);
  });

  it('keeps the connection to a receiver for the next deliveries, and re-checks the name before each', async () => {
    let address = '127.0.0.1';
    const lookup = async () => [{ address, family: 4 }];
    const kept = sender({ policy: { allowLoopback: true }, lookup });
    const message = { id: 'trc_5', url: `http://kept.test:${port}/`, payload: '{}', secret };
    const before = requests.length;
    for (let index = 0; index < 3; index++) {
      expect(await kept.send(message)).toMatchObject({ ok: true, statusCode: 204 });
      await new Promise((resolve) => setImmediate(resolve)); // the connection returns to the pool after the answer
    }
    const used = new Set(requests.slice(before).map((request) => request.connection));
    expect(used.size).toBe(1);
    address = '10.9.9.9';
    expect(await kept.send(message)).toMatchObject({ ok: false, error: expect.stringContaining('destination 10.9.9.9 is not allowed') });
    expect(requests.length).toBe(before + 3);
  });

  it('sends again, once, on a new connection when the receiver drops the kept one as the request arrives', async () => {
    const kept = sender();
    const message = { id: 'trc_6', url: `http://127.0.0.1:${port}/`, payload: '{}', secret };
    expect(await kept.send(message)).toMatchObject({ ok: true });
    await new Promise((resolve) => setImmediate(resolve));
    const before = requests.length;
    resets = 1;
    expect(await kept.send(message)).toMatchObject({ ok: true, statusCode: 204 });
    expect(requests.slice(before).map((request) => request.connection)).toEqual([connections.size - 1]);
    // A reset of a new connection is a failed attempt, not sent again.
    resets = 1;
    expect(await sender().send(message)).toMatchObject({ ok: false, error: 'could not reach the receiver (ECONNRESET)' });
  });

  it('gives up on a receiver that does not answer in time, and reports one that is not there', async () => {
    const slow = await sender({ timeoutMs: 300 }).send({ id: 'trc_3', url: `http://127.0.0.1:${port}/slow`, payload: '{}', secret });
    expect(slow).toMatchObject({ ok: false, statusCode: null, error: 'no answer within 300 ms' });
    const closed = await sender({ timeoutMs: 2000 }).send({ id: 'trc_4', url: 'http://127.0.0.1:1/', payload: '{}', secret });
    expect(closed).toMatchObject({ ok: false, statusCode: null, error: 'could not reach the receiver (ECONNREFUSED)' });
  });
});
