import type { LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { DestinationError, resolveDestination, type DestinationPolicy, type Lookup } from './webhook-destination.js';

const USER_AGENT = 'Airlock-Webhooks/1';
/** Bytes of a receiver's answer read (and dropped) before the connection is closed. */
const RESPONSE_READ_LIMIT = 64 * 1024;

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

/**
 * POSTs one signed webhook (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`). The host is
 * resolved and every address checked against the policy, and the connection goes to a checked address, so a DNS
 * answer that changes between check and connect cannot redirect it. Redirects are not followed: only a 2xx answer
 * is a delivery.
 */
export async function sendWebhook(
  message: WebhookMessage,
  options: { policy: DestinationPolicy; timeoutMs: number; lookup?: Lookup },
): Promise<SendResult> {
  const started = performance.now();
  const finish = (result: Omit<SendResult, 'durationMs'>): SendResult => ({ ...result, durationMs: performance.now() - started });
  const url = new URL(message.url);
  let addresses: LookupAddress[];
  try {
    addresses = await resolveDestination(url, options.policy, options.lookup);
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
  };
  try {
    const response = await post(url, message.payload, headers, pinnedLookup(addresses), options.timeoutMs);
    const statusCode = response.statusCode ?? 0;
    if (statusCode >= 200 && statusCode < 300) return finish({ ok: true, statusCode, error: null });
    const location = response.headers.location;
    const error =
      statusCode >= 300 && statusCode < 400
        ? `receiver answered ${statusCode} (redirect${location ? ` to ${location}` : ''}, not followed)`
        : `receiver answered ${statusCode}`;
    return finish({ ok: false, statusCode, error });
  } catch (error) {
    return finish({ ok: false, statusCode: null, error: describeFailure(error, options.timeoutMs) });
  }
}

/** A lookup that answers only the addresses already checked (Node calls it when it connects to a name). */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const family = typeof options === 'object' ? options.family : undefined;
    const matching = addresses.filter((entry) => !family || entry.family === family);
    if (matching.length === 0) {
      callback(Object.assign(new Error('no checked address of the requested family'), { code: 'ENOTFOUND' }), '', 0);
    } else if (typeof options === 'object' && options.all) {
      (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, matching);
    } else {
      const [first] = matching as [LookupAddress];
      callback(null, first.address, first.family);
    }
  };
}

function post(url: URL, body: string, headers: Record<string, string>, lookup: LookupFunction, timeoutMs: number): Promise<IncomingMessage> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup,
        agent: false,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > RESPONSE_READ_LIMIT) response.destroy();
        });
        response.on('end', () => resolve(response));
        response.on('close', () => resolve(response));
        response.on('error', () => resolve(response));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const failure = error as NodeJS.ErrnoException;
  if (failure.name === 'AbortError' || failure.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return `could not reach the receiver (${failure.code ?? failure.message})`;
}
