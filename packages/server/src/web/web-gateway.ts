import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { FetchCache } from './fetch-cache.js';
import { scanForInjection, type InjectionScan } from './injection-scanner.js';
import { readableText } from './readable-text.js';
import { SearchFailed, type SearchProvider, type SearchResult } from './search-providers.js';
import { WebFetchRefused, type WebFetcher, type WebHop } from './web-fetcher.js';
import type { WebDestinationPolicy } from './web-policy.js';

/** What an execution may do with the web tools: where, how often, how much, and what the scan does. */
export interface WebPolicy extends WebDestinationPolicy {
  requestsPerMinute: number;
  requestsPerCall: number;
  maxResponseBytes: number;
  injectionScan: 'off' | 'flag' | 'block';
  /** Whether web search is allowed (fetches are, within the rules above). */
  search: boolean;
}

/** Whom a web request is made for: an execution (by its token), or an MCP tool call. */
export interface WebCaller {
  organizationId: string;
  /** The execution; null for an MCP tool call. */
  traceId: string | null;
  /** The MCP request a tool call came in; null for an execution. */
  requestId: string | null;
  apiKeyId: string;
  /** The key's name, as the audit log names the actor. */
  actor: string;
  policy: WebPolicy;
}

/** One request through the gateway, allowed or not, as the audit log keeps it. */
export interface WebRequestRecord {
  caller: WebCaller;
  tool: 'fetch' | 'search';
  /** The URL asked for, or the query. */
  target: string;
  decision: 'allowed' | 'blocked' | 'failed';
  /** The rule that decided (`not_in_blocklist`, `blocklist:<entry>`, `blocked_range:<cidr>`, `rate_limit_per_call`...). */
  rule: string;
  status: number | null;
  bytes: number;
  durationMs: number;
  hops: WebHop[];
  /** Served from the organization's recent fetches (FetchCache) rather than fetched again. */
  cached: boolean;
  scan: InjectionScan | null;
  /** The start of the answer's body, at most AUDIT_BODY_BYTES. */
  bodyExcerpt: string;
}

/** How much of an answer's body its audit entry keeps. */
export const AUDIT_BODY_BYTES = 60 * 1024;
const REQUEST_BODY_BYTES = 8 * 1024;
const FETCH_TIMEOUT_MS = 20_000;
const SEARCH_TIMEOUT_MS = 15_000;
const MAX_SEARCH_RESULTS = 20;
const GATEWAY_MAX_CONNECTIONS = 512;

/** What a fetch answers: the page as readable text, or withheld, with its scan. */
export interface WebFetchAnswer {
  url: string;
  final_url: string;
  status: number;
  content_type: string;
  title: string | null;
  text: string | null;
  truncated: boolean;
  withheld: boolean;
  scan: { score: number; flagged: boolean; reasons: { rule: string; excerpt: string }[] } | null;
}

export interface WebSearchAnswer {
  query: string;
  provider: string;
  results: SearchResult[];
}

/** The token an execution's tools present, and how its sandbox finds the gateway. */
export interface WebAdmission {
  token: string;
  /** Variables for the execution's environment. */
  env: Record<string, string>;
  /** Ends the token; requests with it are refused from then on. */
  revoke(): void;
}

export interface WebGatewayOptions {
  /** The Unix socket the gateway listens on; its directory is bound into every sandbox. */
  socketPath: string;
  /** The socket's path inside a sandbox. */
  sandboxSocketPath: string;
  fetcher: WebFetcher;
  /** Recent fetches per organization, served again; none when absent. */
  cache?: FetchCache;
  /** The organization's search provider, or null when it has none. */
  searchProvider(organizationId: string): Promise<SearchProvider | null>;
  /** Open connections at most, from all sandboxes together; 512 by default. */
  maxConnections?: number;
  /** Called once per request, before the answer goes out; the audit log's writer. */
  record(entry: WebRequestRecord): Promise<void>;
  now?: () => number;
}

interface Admitted {
  caller: WebCaller;
  used: number;
}

/** A web request refused or failed, as its tool reports it: HTTP status, stable code, the deciding rule. */
export class WebToolRefusal extends Error {
  override readonly name = 'WebToolRefusal';

  constructor(
    readonly status: number,
    readonly code: string,
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The web tools' way out of a sandbox: an HTTP server on a Unix socket that every sandbox can reach, even with its
 * network blocked, and that acts only for a live execution's token. It fetches and searches under the execution's
 * policy, scans what it fetched for prompt injection, and records every request, allowed or refused.
 */
export class WebGateway {
  readonly #options: WebGatewayOptions;
  readonly #admitted = new Map<string, Admitted>();
  /** Request times per API key over the last minute, for requests-per-minute across calls. */
  readonly #recent = new Map<string, number[]>();
  #server: Server | undefined;

  constructor(options: WebGatewayOptions) {
    this.#options = options;
  }

  async listen(): Promise<void> {
    const { socketPath } = this.#options;
    await mkdir(dirname(socketPath), { recursive: true, mode: 0o755 });
    await chmod(dirname(socketPath), 0o755);
    await rm(socketPath, { force: true });
    const server = createServer({ headersTimeout: 5_000, requestTimeout: 60_000 }, (request, response) => void this.#handle(request, response));
    // Any sandbox can connect: a cap on open connections keeps one that opens thousands from taking the server's
    // descriptors (it can still crowd out other sandboxes' web requests, not the rest of the server).
    server.maxConnections = this.#options.maxConnections ?? GATEWAY_MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, resolve);
    });
    // The sandbox user of every sandbox connects; what it may do is decided by its token.
    await chmod(socketPath, 0o666);
    this.#server = server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(this.#options.socketPath, { force: true });
  }

  /** A token for one execution, valid until revoked. */
  admit(caller: WebCaller): WebAdmission {
    const token = randomBytes(32).toString('base64url');
    this.#admitted.set(token, { caller, used: 0 });
    return {
      token,
      env: { AIRLOCK_WEB_SOCKET: this.#options.sandboxSocketPath, AIRLOCK_WEB_TOKEN: token },
      revoke: () => this.#admitted.delete(token),
    };
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      if (!response.headersSent) response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    try {
      const tool = request.url === '/fetch' ? 'fetch' : request.url === '/search' ? 'search' : null;
      if (request.method !== 'POST' || tool === null) throw new WebToolRefusal(404, 'not_found', 'route', 'POST /fetch {"url"} or POST /search {"query"}');
      const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      const admitted = token === undefined ? undefined : this.#admitted.get(token);
      if (!admitted) throw new WebToolRefusal(401, 'unauthorized', 'token', 'no live execution has this token');
      const input = await readJson(request);
      reply(200, tool === 'fetch' ? await this.#fetch(admitted, input.url) : await this.#search(admitted, input.query, input.count));
    } catch (error) {
      if (error instanceof WebToolRefusal) reply(error.status, { error: error.code, rule: error.rule, message: error.message });
      else reply(500, { error: 'internal', message: 'the web gateway failed' });
    }
  }

  /** Counts a request against the call's and the key's limits; throws (and records) when one is reached. */
  async #take(admitted: Admitted, tool: 'fetch' | 'search', target: string): Promise<void> {
    const { caller } = admitted;
    const now = (this.#options.now ?? Date.now)();
    const recent = (this.#recent.get(caller.apiKeyId) ?? []).filter((at) => at > now - 60_000);
    let refusal: WebToolRefusal | undefined;
    if (admitted.used >= caller.policy.requestsPerCall) {
      refusal = new WebToolRefusal(429, 'rate_limited', 'rate_limit_per_call', `at most ${caller.policy.requestsPerCall} web requests per ${caller.traceId === null ? 'tool call' : 'execution'}`);
    } else if (recent.length >= caller.policy.requestsPerMinute) {
      refusal = new WebToolRefusal(429, 'rate_limited', 'rate_limit_per_minute', `at most ${caller.policy.requestsPerMinute} web requests a minute for this API key`);
    }
    if (refusal) {
      await this.#record(caller, tool, target, { decision: 'blocked', rule: refusal.rule });
      throw refusal;
    }
    admitted.used += 1;
    recent.push(now);
    this.#recent.set(caller.apiKeyId, recent);
  }

  async #record(caller: WebCaller, tool: 'fetch' | 'search', target: string, fields: Partial<WebRequestRecord> & Pick<WebRequestRecord, 'decision' | 'rule'>) {
    await this.#options.record({ caller, tool, target, status: null, bytes: 0, durationMs: 0, hops: [], cached: false, scan: null, bodyExcerpt: '', ...fields });
  }

  /** One fetch for a caller outside any execution (an MCP tool call): its own per-call count. */
  fetchFor(caller: WebCaller, url: string): Promise<WebFetchAnswer> {
    return this.#fetch({ caller, used: 0 }, url);
  }

  /** One search for a caller outside any execution (an MCP tool call). */
  searchFor(caller: WebCaller, query: string, count?: number): Promise<WebSearchAnswer> {
    return this.#search({ caller, used: 0 }, query, count);
  }

  async #fetch(admitted: Admitted, input: unknown): Promise<WebFetchAnswer> {
    const url = typeof input === 'string' ? input.slice(0, 4096) : '';
    if (url === '') throw new WebToolRefusal(400, 'validation_error', 'input', 'url: an absolute http(s) URL');
    await this.#take(admitted, 'fetch', url);
    const { policy } = admitted.caller;
    const started = performance.now();
    const limits = { ...policy, timeoutMs: FETCH_TIMEOUT_MS };
    let result = this.#options.cache?.get(admitted.caller.organizationId, url, limits);
    const cached = result !== undefined;
    try {
      if (result === undefined) {
        result = await this.#options.fetcher.fetch(url, limits);
        this.#options.cache?.put(admitted.caller.organizationId, url, result);
      }
    } catch (error) {
      if (!(error instanceof WebFetchRefused)) throw error;
      const blocked = !['timeout', 'connection'].includes(error.rule);
      await this.#record(admitted.caller, 'fetch', url, {
        decision: blocked ? 'blocked' : 'failed',
        rule: error.rule,
        hops: error.hops,
        durationMs: performance.now() - started,
      });
      throw new WebToolRefusal(blocked ? 403 : 502, blocked ? 'blocked' : 'fetch_failed', error.rule, error.message);
    }
    const body = result.body.toString('utf8');
    const readable = readableText(body, result.contentType);
    const scan = policy.injectionScan === 'off' ? null : scanForInjection(readable.text, result.contentType === 'text/html' ? body : undefined);
    const withheld = policy.injectionScan === 'block' && scan?.flagged === true;
    await this.#record(admitted.caller, 'fetch', url, {
      decision: withheld ? 'blocked' : 'allowed',
      rule: withheld ? 'injection_scan' : (result.hops.at(-1)?.rule ?? ''),
      status: result.status,
      bytes: result.body.length,
      durationMs: result.durationMs,
      hops: result.hops,
      cached,
      scan,
      bodyExcerpt: result.body.subarray(0, AUDIT_BODY_BYTES).toString('utf8'),
    });
    return {
      url,
      final_url: result.finalUrl,
      status: result.status,
      content_type: result.contentType,
      title: withheld ? null : readable.title,
      text: withheld ? null : readable.text,
      truncated: result.truncated,
      withheld,
      scan: scan && { score: scan.score, flagged: scan.flagged, reasons: scan.findings.map(({ rule, excerpt }) => ({ rule, excerpt })) },
    };
  }

  async #search(admitted: Admitted, input: unknown, requested: unknown): Promise<WebSearchAnswer> {
    const query = typeof input === 'string' ? input.trim().slice(0, 400) : '';
    if (query === '') throw new WebToolRefusal(400, 'validation_error', 'input', 'query: the words to search for');
    const count = typeof requested === 'number' && Number.isInteger(requested) ? Math.min(Math.max(requested, 1), MAX_SEARCH_RESULTS) : 5;
    if (!admitted.caller.policy.search) {
      await this.#record(admitted.caller, 'search', query, { decision: 'blocked', rule: 'search_off' });
      throw new WebToolRefusal(403, 'blocked', 'search_off', "this web policy does not allow search");
    }
    const provider = await this.#options.searchProvider(admitted.caller.organizationId);
    if (!provider) {
      await this.#record(admitted.caller, 'search', query, { decision: 'blocked', rule: 'no_search_provider' });
      throw new WebToolRefusal(403, 'blocked', 'no_search_provider', "this organization has no web search provider; an operator configures one");
    }
    await this.#take(admitted, 'search', query);
    const started = performance.now();
    let results: SearchResult[];
    try {
      results = await provider.search(query, count, AbortSignal.timeout(SEARCH_TIMEOUT_MS));
    } catch (error) {
      const message = error instanceof SearchFailed ? error.message : `${provider.name} did not answer in time`;
      await this.#record(admitted.caller, 'search', query, { decision: 'failed', rule: `provider:${provider.name}`, durationMs: performance.now() - started });
      throw new WebToolRefusal(502, 'search_failed', `provider:${provider.name}`, message);
    }
    const serialized = JSON.stringify(results);
    await this.#record(admitted.caller, 'search', query, {
      decision: 'allowed',
      rule: `provider:${provider.name}`,
      status: 200,
      bytes: Buffer.byteLength(serialized),
      durationMs: performance.now() - started,
      bodyExcerpt: Buffer.from(serialized).subarray(0, AUDIT_BODY_BYTES).toString('utf8'),
    });
    return { query, provider: provider.name, results };
  }
}

/** A small JSON object body, or a 400. */
async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of request) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length > REQUEST_BODY_BYTES) throw new WebToolRefusal(413, 'payload_too_large', 'input', `a request body is at most ${REQUEST_BODY_BYTES} bytes`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new WebToolRefusal(400, 'validation_error', 'input', 'the body must be a JSON object');
}
