import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pinnedLookup } from '../shared/pinned-lookup.js';
import { resolveWebDestination, systemIpv4Lookup, WebDestinationRefused, type Ipv4Lookup } from './web-destination.js';
import { decideUrl, type WebDestinationPolicy } from './web-policy.js';

/** The content types a fetch returns; others are refused (`content_type`). */
const TEXTUAL = /^(text\/[a-z0-9.+-]+|application\/(json|xml|xhtml\+xml|ld\+json|[a-z0-9.-]+\+(json|xml)))$/;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** What a fetch may do beyond where it goes. */
export interface WebFetchLimits extends WebDestinationPolicy {
  /** The body is cut here (`truncated`). */
  maxResponseBytes: number;
  /** For the whole fetch, redirects and body included. */
  timeoutMs: number;
  /** @default 5 */
  maxRedirects?: number;
}

/** One request of a fetch: the first, or one a redirect led to. */
export interface WebHop {
  url: string;
  /** The rule that let it go (or stopped it), as `decideUrl` and the address check name them. */
  rule: string;
  /** The address connected to; null when refused before connecting. */
  address: string | null;
  status: number | null;
}

export interface WebFetchResult {
  finalUrl: string;
  status: number;
  contentType: string;
  body: Buffer;
  truncated: boolean;
  hops: WebHop[];
  durationMs: number;
}

/** A fetch the policy or the limits stopped; `hops` says how far it went, the last one refused. */
export class WebFetchRefused extends Error {
  override readonly name = 'WebFetchRefused';

  constructor(
    /** The deciding rule: a URL rule, an address rule, `redirects`, `content_type`, `timeout`, `connection`. */
    readonly rule: string,
    message: string,
    readonly hops: WebHop[],
  ) {
    super(message);
  }
}

export interface WebFetcherOptions {
  /** @default the system resolver, IPv4 */
  lookup?: Ipv4Lookup;
  /** Tests only: loopback servers count as the internet. */
  allowLoopback?: boolean;
  userAgent?: string;
}

/**
 * HTTP(S) GET on a sandbox's behalf, from the server: each hop (the URL asked, then every redirect) is checked
 * against the policy, then its name resolved and every address checked, and the connection pinned to the checked
 * address, so a name cannot be rebound between the check and the connection. Only textual answers are kept, up to
 * the size limit; the whole fetch has one deadline.
 */
export class WebFetcher {
  readonly #lookup: Ipv4Lookup;
  readonly #allowLoopback: boolean;
  readonly #userAgent: string;

  constructor(options: WebFetcherOptions = {}) {
    this.#lookup = options.lookup ?? systemIpv4Lookup;
    this.#allowLoopback = options.allowLoopback ?? false;
    this.#userAgent = options.userAgent ?? 'Airlock-web-fetch/1';
  }

  async fetch(raw: string, limits: WebFetchLimits): Promise<WebFetchResult> {
    const started = performance.now();
    const signal = AbortSignal.timeout(limits.timeoutMs);
    const hops: WebHop[] = [];
    let url = parseUrl(raw, hops);
    for (;;) {
      const decision = decideUrl(limits, url);
      const hop: WebHop = { url: url.href, rule: decision.rule, address: null, status: null };
      hops.push(hop);
      if (!decision.allowed) throw new WebFetchRefused(decision.rule, decision.reason, hops);
      try {
        hop.address = await resolveWebDestination(url.hostname, this.#lookup, this.#allowLoopback);
      } catch (error) {
        if (!(error instanceof WebDestinationRefused)) throw error;
        hop.rule = error.rule;
        throw new WebFetchRefused(error.rule, error.message, hops);
      }
      const response = await this.#get(url, hop.address, signal, hops);
      hop.status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (REDIRECTS.has(hop.status) && location) {
        response.resume();
        if (hops.length > (limits.maxRedirects ?? 5)) {
          throw new WebFetchRefused('redirects', `more than ${limits.maxRedirects ?? 5} redirects`, hops);
        }
        url = parseUrl(new URL(location, url).href, hops);
        continue;
      }
      const declared = (response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (declared !== '' && !TEXTUAL.test(declared)) {
        response.destroy();
        throw new WebFetchRefused('content_type', `${url.href} answered ${declared}; only text, HTML, JSON and XML are fetched`, hops);
      }
      const { body, truncated } = await readLimited(response, limits.maxResponseBytes, signal, hops);
      // An answer without a content type is text when its start has no NUL byte, as browsers sniff plain text.
      if (declared === '' && body.subarray(0, 1024).includes(0)) {
        throw new WebFetchRefused('content_type', `${url.href} answered binary content without a content type; only text is fetched`, hops);
      }
      const contentType = declared || 'text/plain';
      return { finalUrl: url.href, status: hop.status, contentType, body, truncated, hops, durationMs: performance.now() - started };
    }
  }

  #get(url: URL, address: string, signal: AbortSignal, hops: WebHop[]): Promise<IncomingMessage> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        url,
        {
          method: 'GET',
          headers: { 'user-agent': this.#userAgent, accept: 'text/html, text/plain;q=0.9, application/json;q=0.9, */*;q=0.1' },
          lookup: pinnedLookup([{ address, family: 4 }]),
          signal,
        },
        resolve,
      );
      request.on('error', (error) => reject(connectionFailure(error, url, signal, hops)));
      request.end();
    });
  }
}

function parseUrl(raw: string, hops: WebHop[]): URL {
  try {
    return new URL(raw);
  } catch {
    throw new WebFetchRefused('url', `"${raw.slice(0, 200)}" is not an absolute URL`, hops);
  }
}

function connectionFailure(error: Error, url: URL, signal: AbortSignal, hops: WebHop[]): WebFetchRefused {
  if (signal.aborted) return new WebFetchRefused('timeout', `${url.href} did not answer in time`, hops);
  return new WebFetchRefused('connection', `${url.href}: ${(error as NodeJS.ErrnoException).code ?? error.message}`, hops);
}

/** The body up to `limit` bytes; the rest is not read. */
function readLimited(response: IncomingMessage, limit: number, signal: AbortSignal, hops: WebHop[]): Promise<{ body: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (truncated: boolean) => {
      if (done) return;
      done = true;
      resolve({ body: Buffer.concat(chunks).subarray(0, limit), truncated });
    };
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        finish(true);
        response.destroy();
      }
    });
    response.on('end', () => finish(false));
    const broken = (why: string) => {
      if (done) return;
      done = true;
      reject(signal.aborted ? new WebFetchRefused('timeout', 'the answer did not arrive in time', hops) : new WebFetchRefused('connection', `the answer broke off: ${why}`, hops));
    };
    response.on('error', (error) => broken(error.message));
    response.on('close', () => broken('the connection closed'));
  });
}
