import type { WebPolicySettings } from '@airlock/contracts';
import type { NewAuditEntry } from '@airlock/db';
import type { Principal } from '../auth/api-key-service.js';
import type { WebAdmission, WebGateway, WebPolicy, WebRequestRecord } from './web-gateway.js';

/**
 * The web tools of executions: a call whose key and sandbox config allow them is admitted to the gateway for as
 * long as it runs (its token in its environment); others get nothing, and their tools answer that the web is off.
 */
export class WebTools {
  readonly #gateway: Pick<WebGateway, 'admit'>;
  readonly #policyOf: (principal: Principal) => WebPolicy | null;

  constructor(options: { gateway: Pick<WebGateway, 'admit'>; policyOf: (principal: Principal) => WebPolicy | null }) {
    this.#gateway = options.gateway;
    this.#policyOf = options.policyOf;
  }

  admit(principal: Principal, traceId: string): WebAdmission | null {
    const policy = this.#policyOf(principal);
    if (policy === null) return null;
    return this.#gateway.admit({
      organizationId: principal.organization.id,
      traceId,
      apiKeyId: principal.apiKey.id,
      actor: principal.apiKey.name,
      policy,
    });
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
    targetType: 'execution',
    targetId: record.caller.traceId,
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
      scan: record.scan && { score: record.scan.score, flagged: record.scan.flagged, findings: record.scan.findings },
      body: record.bodyExcerpt,
    },
    ip: null,
    userAgent: null,
    requestId: null,
  };
}
