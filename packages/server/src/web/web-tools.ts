import type { WebPolicySettings } from '@airlock/contracts';
import type { NewAuditEntry } from '@airlock/db';
import type { Principal } from '../auth/api-key-service.js';
import type { WebAdmission, WebCaller, WebFetchAnswer, WebGateway, WebPolicy, WebRequestRecord, WebSearchAnswer } from './web-gateway.js';

/**
 * The web tools of a key: in its executions, a call whose key and sandbox config allow them is admitted to the
 * gateway for as long as it runs (its token in its environment), others get nothing and their tools answer that the
 * web is off; as MCP tools, each call is a request of its own under the same policy.
 */
export class WebTools {
  readonly #gateway: Pick<WebGateway, 'admit' | 'fetchFor' | 'searchFor'>;
  readonly #policyOf: (principal: Principal) => WebPolicy | null;

  constructor(options: { gateway: Pick<WebGateway, 'admit' | 'fetchFor' | 'searchFor'>; policyOf: (principal: Principal) => WebPolicy | null }) {
    this.#gateway = options.gateway;
    this.#policyOf = options.policyOf;
  }

  /** The key's policy as the gateway applies it; null when its web tools are off. */
  policyOf(principal: Principal): WebPolicy | null {
    return this.#policyOf(principal);
  }

  admit(principal: Principal, traceId: string): WebAdmission | null {
    const caller = this.#caller(principal, { traceId, requestId: null });
    return caller && this.#gateway.admit(caller);
  }

  /** A fetch as an MCP tool call; null when the key's web tools are off. */
  async fetch(principal: Principal, requestId: string, url: string): Promise<WebFetchAnswer | null> {
    const caller = this.#caller(principal, { traceId: null, requestId });
    return caller && this.#gateway.fetchFor(caller, url);
  }

  /** A search as an MCP tool call; null when the key's web tools are off. */
  async search(principal: Principal, requestId: string, query: string, count?: number): Promise<WebSearchAnswer | null> {
    const caller = this.#caller(principal, { traceId: null, requestId });
    return caller && this.#gateway.searchFor(caller, query, count);
  }

  #caller(principal: Principal, call: Pick<WebCaller, 'traceId' | 'requestId'>): WebCaller | null {
    const policy = this.#policyOf(principal);
    if (policy === null) return null;
    return { organizationId: principal.organization.id, ...call, apiKeyId: principal.apiKey.id, actor: principal.apiKey.name, policy };
  }
}

/** A sandbox config's policy (as its key narrows it) as the gateway applies it. */
export function gatewayPolicy(settings: WebPolicySettings): WebPolicy {
  return {
    domains: { mode: settings.domains.mode, entries: settings.domains.entries },
    httpsOnly: settings.https_only,
    requestsPerMinute: settings.requests_per_minute,
    requestsPerCall: settings.requests_per_call,
    maxResponseBytes: settings.max_response_bytes,
    injectionScan: settings.injection_scan,
    search: settings.search,
  };
}

/**
 * A web request's audit entry: in the organization's chain, by the key, on the execution; what was asked, the rule
 * that decided, the scan, and the start of what came back.
 */
export function webAuditEntry(record: WebRequestRecord): NewAuditEntry {
  return {
    orgId: record.caller.organizationId,
    actor: record.caller.actor,
    authMethod: 'api_key',
    action: `web.${record.tool}`,
    targetType: record.caller.traceId === null ? 'mcp_request' : 'execution',
    targetId: record.caller.traceId ?? record.caller.requestId,
    outcome: record.decision === 'allowed' ? 'success' : record.decision === 'blocked' ? 'denied' : 'failure',
    reason: record.rule,
    changes: {
      [record.tool === 'fetch' ? 'url' : 'query']: record.target,
      api_key_id: record.caller.apiKeyId,
      rule: record.rule,
      status: record.status,
      bytes: record.bytes,
      duration_ms: Math.round(record.durationMs),
      hops: record.hops,
      cached: record.cached,
      scan: record.scan && { score: record.scan.score, flagged: record.scan.flagged, findings: record.scan.findings },
      body: record.bodyExcerpt,
    },
    ip: null,
    userAgent: null,
    requestId: null,
  };
}
