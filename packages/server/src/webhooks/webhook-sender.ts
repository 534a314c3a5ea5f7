import type { LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { pinnedLookup } from '../shared/pinned-lookup.js';
import { Webhook } from 'standardwebhooks';
import { DestinationError, resolveDestination, type DestinationPolicy, type Lookup } from './webhook-destination.js';

const USER_AGENT = 'Airlock-Webhooks/1';
/** Bytes of a receiver's answer read (and dropped) before the connection is closed. */
const RESPONSE_READ_LIMIT = 64 * 1024;
/** Kept connections per receiver host and port (the dispatcher makes at most 8 attempts at once). */
const MAX_CONNECTIONS_PER_HOST = 8;
/** An idle kept connection is closed after this long, before the 5 s a Node.js receiver keeps it by default. */
const IDLE_CONNECTION_MS = 4000;

export interface WebhookMessage {
  /** Standard Webhooks `webhook-id`: the same on every attempt, so receivers can drop duplicates. */
  id: string;
  url: string;
  /** The exact JSON body; signed as sent. */
  payload: string;
  /** `whsec_...` signing secret. */
  secret: string;
}

export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface WebhookSenderOptions {
  policy: DestinationPolicy;
  /** How long one attempt may take. */
  timeoutMs: number;
  /** Resolves destination hosts. @default the system resolver */
  lookup?: Lookup;
}

/**
 * POSTs signed webhooks (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`). For each one the
 * host is resolved and every address checked against the policy, and a new connection goes to a checked address, so
 * a DNS answer that changes between check and connect cannot redirect it. Connections are kept alive per host and
 * port for the next deliveries there (each was opened to a checked address); an idle one is closed after
 * IDLE_CONNECTION_MS, or sooner when the receiver's `Keep-Alive` says so. Redirects are not followed: only a 2xx answer
 * is a delivery.
 */
export class WebhookSender {
  readonly #options: WebhookSenderOptions;
  readonly #agents: Record<'http:' | 'https:', HttpAgent>;

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
    const agentOptions = { keepAlive: true, maxSockets: MAX_CONNECTIONS_PER_HOST, maxFreeSockets: MAX_CONNECTIONS_PER_HOST, timeout: IDLE_CONNECTION_MS };
    this.#agents = { 'http:': new HttpAgent(agentOptions), 'https:': new HttpsAgent(agentOptions) };
  }

  async send(message: WebhookMessage): Promise<SendResult> {
    const started = performance.now();
    const finish = (result: Omit<SendResult, 'durationMs'>): SendResult => ({ ...result, durationMs: performance.now() - started });
    const { policy, timeoutMs, lookup } = this.#options;
    const url = new URL(message.url);
    let addresses: LookupAddress[];
    try {
      addresses = await resolveDestination(url, policy, lookup);
    } catch (error) {
      if (error instanceof DestinationError) return finish({ ok: false, statusCode: null, error: error.message });
      throw error;
    }
    const timestamp = new Date();
    const signature = new Webhook(message.secret).sign(message.id, timestamp, message.payload);
    const headers = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': message.id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
      'content-length': String(Buffer.byteLength(message.payload)),
    };
    const agent = url.protocol === 'https:' ? this.#agents['https:'] : this.#agents['http:'];
    try {
      const response = await post(url, message.payload, { headers, agent, lookup: pinnedLookup(addresses), signal: AbortSignal.timeout(timeoutMs) });
      const statusCode = response.statusCode ?? 0;
      if (statusCode >= 200 && statusCode < 300) return finish({ ok: true, statusCode, error: null });
      const location = response.headers.location;
      const error =
        statusCode >= 300 && statusCode < 400
          ? `receiver answered ${statusCode} (redirect${location ? ` to ${location}` : ''}, not followed)`
          : `receiver answered ${statusCode}`;
      return finish({ ok: false, statusCode, error });
    } catch (error) {
      return finish({ ok: false, statusCode: null, error: describeFailure(error, timeoutMs) });
    }
  }

  /** Closes the kept connections. */
  close(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }
}

interface PostOptions {
  headers: Record<string, string>;
  agent: HttpAgent;
  lookup: LookupFunction;
  signal: AbortSignal;
}

/**
 * One POST. A kept connection that the receiver closed while it sat idle fails with ECONNRESET before any answer;
 * the POST is then sent once more, on a new connection.
 */
async function post(url: URL, body: string, options: PostOptions): Promise<IncomingMessage> {
  try {
    return await postOnce(url, body, options);
  } catch (error) {
    if (!(error instanceof ReusedConnectionReset)) throw error;
    return postOnce(url, body, options);
  }
}

class ReusedConnectionReset extends Error {}

function postOnce(url: URL, body: string, { headers, agent, lookup, signal }: PostOptions): Promise<IncomingMessage> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(url, { method: 'POST', headers, agent, lookup, signal }, (response) => {
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > RESPONSE_READ_LIMIT) response.destroy();
      });
      response.on('end', () => resolve(response));
      response.on('close', () => resolve(response));
      response.on('error', () => resolve(response));
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      reject(request.reusedSocket && error.code === 'ECONNRESET' ? new ReusedConnectionReset(error.message) : error);
    });
    request.end(body);
  });
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const failure = error as NodeJS.ErrnoException;
  if (failure.name === 'AbortError' || failure.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return `could not reach the receiver (${failure.code ?? failure.message})`;
}
