import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecuteResponse } from '@airlock/contracts';
import { Webhook } from 'standardwebhooks';

/** One delivery the receiver accepted: its signature verified against the sandbox config's secret. */
export interface ReceivedWebhook {
  /** `performance.now()` when the whole body had arrived, before it was verified. */
  receivedAt: number;
  /** The verified payload: the inline response's fields plus `metadata`. */
  payload: ExecuteResponse;
}

/** A node:http server on 127.0.0.1 in this process that takes Airlock's signed webhooks and answers 204. */
export interface WebhookReceiver {
  /** Where Airlock POSTs: plain http to loopback, which a server allows with `webhooks.allowLoopback`. */
  url: string;
  /** The delivery whose `webhook-id` (the trace id) is `traceId`, whether it came already or comes within `timeoutMs`. */
  next(traceId: string, timeoutMs: number): Promise<ReceivedWebhook>;
  /** Stops the server. Idempotent. */
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function headerText(request: IncomingMessage, name: string): string {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

/**
 * Starts the receiver. A delivery whose signature does not verify is answered 400 and fails the `next` call for its
 * trace id (or the next one, if its id cannot be read), so every figure timed with it is a valid delivery.
 */
export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const verifier = new Webhook(secret);
  const received = new Map<string, ReceivedWebhook | Error>();
  const waiting = new Map<string, (outcome: ReceivedWebhook | Error) => void>();
  const unattributed: Error[] = [];

  const deliver = (traceId: string, outcome: ReceivedWebhook | Error): void => {
    const waiter = waiting.get(traceId);
    waiting.delete(traceId);
    if (waiter) waiter(outcome);
    else if (traceId === '' && outcome instanceof Error) unattributed.push(outcome);
    else received.set(traceId, outcome);
  };

  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const receivedAt = performance.now();
      const traceId = headerText(request, 'webhook-id');
      const headers = {
        'webhook-id': traceId,
        'webhook-timestamp': headerText(request, 'webhook-timestamp'),
        'webhook-signature': headerText(request, 'webhook-signature'),
      };
      try {
        const payload = verifier.verify(body, headers) as ExecuteResponse;
        response.writeHead(204).end();
        deliver(traceId, { receivedAt, payload });
      } catch (error) {
        response.writeHead(400).end();
        deliver(traceId, new Error(`webhook ${traceId || '(no webhook-id)'} did not verify: ${String(error)}`));
      }
    }, () => response.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;

  const next = (traceId: string, timeoutMs: number): Promise<ReceivedWebhook> =>
    new Promise<ReceivedWebhook | Error>((resolve) => {
      const early = unattributed.shift() ?? received.get(traceId);
      received.delete(traceId);
      if (early) return resolve(early);
      const timer = setTimeout(() => {
        waiting.delete(traceId);
        resolve(new Error(`no webhook for ${traceId} within ${timeoutMs / 1000} s; is the server's webhook dispatcher running?`));
      }, timeoutMs);
      waiting.set(traceId, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
    }).then((outcome) => {
      if (outcome instanceof Error) throw outcome;
      return outcome;
    });

  return {
    url: `http://127.0.0.1:${port}/airlock-webhook`,
    next,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
