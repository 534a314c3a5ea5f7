import { z } from 'zod';
import { Allowlist, allowlistCovers } from './network.js';

/**
 * Web tools (issue 20): `web-fetch` and `web-search` from inside a sandbox, through the server's web gateway, under
 * a sandbox config's web policy as its API key narrows it. No policy (null) means the tools are off.
 */

export const WEB_DOMAIN_MODES = ['allowlist', 'blocklist'] as const;
export const INJECTION_SCAN_MODES = ['off', 'flag', 'block'] as const;
export type InjectionScanMode = (typeof INJECTION_SCAN_MODES)[number];

const RequestsPerMinute = z
  .number()
  .int('a whole number')
  .min(1, 'at least 1 request per minute')
  .max(600, 'at most 600 requests per minute')
  .describe("web requests (fetches and searches) per minute of one API key's calls");
const RequestsPerCall = z
  .number()
  .int('a whole number')
  .min(1, 'at least 1 request per call')
  .max(500, 'at most 500 requests per call')
  .describe('web requests one execution may make');
const MaxResponseBytes = z
  .number()
  .int('a whole number')
  .min(1024, 'at least 1024 bytes')
  .max(10_485_760, 'at most 10485760 bytes (10 MiB)')
  .describe('the largest answer a fetch reads; a longer one is refused');

const WebDomains = z
  .strictObject({
    mode: z.enum(WEB_DOMAIN_MODES, {
      error: "'allowlist' (only the hosts of entries) or 'blocklist' (every public host but those of entries)",
    }),
    entries: Allowlist.default([]).describe(
      'names (docs.python.org), wildcards (*.example.com, the names under it) and public IPv4 networks (198.51.100.0/24)',
    ),
  })
  .refine((domains) => domains.mode !== 'allowlist' || domains.entries.length > 0, {
    message: "an allowlist needs at least one entry (a name such as docs.python.org or a wildcard such as *.example.com); use 'blocklist' with no entries for every public host",
    path: ['entries'],
  });

/**
 * A sandbox config's web policy. Omitted fields take their defaults; private and host addresses are never fetched,
 * whatever the domain rules say.
 */
export const WebPolicySettings = z
  .strictObject({
    domains: WebDomains.default({ mode: 'blocklist', entries: [] }).describe('which hosts fetches reach; default every public host'),
    https_only: z.boolean().default(true).describe('plain http is refused, at every redirect too'),
    requests_per_minute: RequestsPerMinute.default(60),
    requests_per_call: RequestsPerCall.default(20),
    max_response_bytes: MaxResponseBytes.default(2_097_152),
    injection_scan: z
      .enum(INJECTION_SCAN_MODES, {
        error: "'off', 'flag' (fetched text is marked with the scan's score and reasons) or 'block' (flagged text is withheld)",
      })
      .default('flag')
      .describe('the prompt-injection scan of fetched text'),
    search: z.boolean().default(true).describe("whether web-search may be used (through the organization's search provider)"),
  })
  .meta({ id: 'WebPolicySettings' });
export type WebPolicySettings = z.infer<typeof WebPolicySettings>;

/** What an API key may narrow its sandbox config's web policy to; every field only narrows. */
export const WebNarrowing = z
  .strictObject({
    off: z.literal(true, { error: 'off: true turns the web tools off for the key; leave it out otherwise' }).optional(),
    domains: z
      .strictObject({
        mode: z.literal('allowlist', { error: "a key narrows the domains to an 'allowlist' only" }),
        entries: Allowlist.min(1, 'at least one entry; narrow with off: true for none'),
      })
      .optional()
      .describe("the hosts the key's fetches may reach, each within the sandbox config's domain rules"),
    https_only: z.literal(true, { error: 'a key may only require https (true)' }).optional(),
    requests_per_minute: RequestsPerMinute.optional(),
    requests_per_call: RequestsPerCall.optional(),
    max_response_bytes: MaxResponseBytes.optional(),
    injection_scan: z.enum(['flag', 'block'], { error: "a key may make the scan 'flag' or 'block' (never turn it off)" }).optional(),
    search: z.literal(false, { error: 'a key may only turn search off (false)' }).optional(),
  })
  .refine((narrowing) => narrowing.off !== true || Object.keys(narrowing).length === 1, {
    message: 'off: true turns the web tools off for the key; send it alone',
    path: ['off'],
  })
  .meta({ id: 'WebNarrowing' });
export type WebNarrowing = z.infer<typeof WebNarrowing>;

const SCAN_STRICTNESS: Record<InjectionScanMode, number> = { off: 0, flag: 1, block: 2 };

/** The entry of the blocklist `blocked` that overlaps `entry` (one within the other), if one does. */
function overlappingEntry(blocked: readonly string[], entry: string): string | undefined {
  return blocked.find((other) => allowlistCovers([other], entry) || allowlistCovers([entry], other));
}

const LIMITS = ['requests_per_minute', 'requests_per_call', 'max_response_bytes'] as const;

/**
 * Why a key's web narrowing widens its sandbox config's web policy (a 400 says it), or undefined when it only narrows.
 * With a config blocklist, a key's allowlist entries may not overlap a blocked entry (neither within the other), so
 * the key's list alone decides. `sandbox` names the config in the message.
 */
export function webNarrowingProblem(config: WebPolicySettings | null, narrowing: WebNarrowing, sandbox: string): string | undefined {
  if (narrowing.off === true) return undefined;
  if (config === null) {
    return `web: sandbox config "${sandbox}" has the web tools off; a key may narrow its web policy (or send off: true), never turn them on`;
  }
  for (const entry of narrowing.domains?.entries ?? []) {
    if (config.domains.mode === 'allowlist') {
      if (!allowlistCovers(config.domains.entries, entry)) {
        return `web.domains.entries: "${entry}" is not within the web allowlist of sandbox config "${sandbox}"; a key may only remove entries or narrow them`;
      }
    } else {
      const blocked = overlappingEntry(config.domains.entries, entry);
      if (blocked !== undefined) {
        return `web.domains.entries: "${entry}" overlaps "${blocked}" of the web blocklist of sandbox config "${sandbox}"; a key's allowlist leaves out what the config blocks`;
      }
    }
  }
  for (const limit of LIMITS) {
    const value = narrowing[limit];
    if (value !== undefined && value > config[limit]) {
      return `web.${limit}: at most ${config[limit]}, the value of sandbox config "${sandbox}"; a key may only lower it`;
    }
  }
  if (narrowing.injection_scan !== undefined && SCAN_STRICTNESS[narrowing.injection_scan] < SCAN_STRICTNESS[config.injection_scan]) {
    return `web.injection_scan: sandbox config "${sandbox}" scans with '${config.injection_scan}'; a key may only make the scan stricter (off < flag < block)`;
  }
  return undefined;
}

/**
 * The web policy a call runs with: its sandbox config's, narrowed by its key; null when the tools are off. The
 * config may have changed since the key was made, so the narrowing is applied again here rather than trusted: a
 * config turned off wins, a key's entries keep only what the config's domain rules still allow (an allowlist left
 * with no entries reaches nothing), limits take the lower value and the scan the stricter mode.
 */
export function effectiveWebPolicy(config: WebPolicySettings | null, narrowing: WebNarrowing | null | undefined): WebPolicySettings | null {
  if (config === null) return null;
  if (!narrowing) return config;
  if (narrowing.off === true) return null;
  const { domains } = config;
  const keyEntries = narrowing.domains?.entries;
  const entries =
    keyEntries === undefined
      ? undefined
      : domains.mode === 'allowlist'
        ? keyEntries.filter((entry) => allowlistCovers(domains.entries, entry))
        : keyEntries.filter((entry) => overlappingEntry(domains.entries, entry) === undefined);
  const scan = narrowing.injection_scan;
  return {
    domains: entries === undefined ? domains : { mode: 'allowlist', entries },
    https_only: config.https_only || narrowing.https_only === true,
    requests_per_minute: Math.min(config.requests_per_minute, narrowing.requests_per_minute ?? Infinity),
    requests_per_call: Math.min(config.requests_per_call, narrowing.requests_per_call ?? Infinity),
    max_response_bytes: Math.min(config.max_response_bytes, narrowing.max_response_bytes ?? Infinity),
    injection_scan: scan !== undefined && SCAN_STRICTNESS[scan] > SCAN_STRICTNESS[config.injection_scan] ? scan : config.injection_scan,
    search: config.search && narrowing.search !== false,
  };
}

/** The search services an organization's web-search goes through. */
export const WEB_SEARCH_PROVIDER_KINDS = ['searxng', 'brave', 'tavily'] as const;
export type WebSearchProviderKind = (typeof WEB_SEARCH_PROVIDER_KINDS)[number];

/** Link-local addresses: cloud metadata services answer at 169.254.169.254. */
const LINK_LOCAL = /^169\.254\./;

const WebSearchEndpoint = z
  .string()
  .max(2048, 'at most 2048 characters')
  .superRefine((value, context) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      context.addIssue({ code: 'custom', message: 'an absolute http or https URL, such as https://searx.example.com' });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') context.addIssue({ code: 'custom', message: `an http or https URL, not ${url.protocol}` });
    else if (url.username !== '' || url.password !== '') context.addIssue({ code: 'custom', message: 'no user or password in the URL; a key goes in api_key' });
    else if (LINK_LOCAL.test(url.hostname)) context.addIssue({ code: 'custom', message: 'a link-local address (169.254.0.0/16, where cloud metadata services answer)' });
  });

const SearchApiKey = z
  .string()
  .min(8, 'at least 8 characters')
  .max(1024, 'at most 1024 characters')
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces, as the provider issued it');

export const WebSearchProviderRequest = z
  .strictObject({
    kind: z.enum(WEB_SEARCH_PROVIDER_KINDS, {
      error: "'searxng' (a SearXNG instance at endpoint), 'brave' (Brave Search API) or 'tavily' (Tavily), the last two with api_key",
    }),
    endpoint: WebSearchEndpoint.optional().describe("the service's base URL: required for searxng; Brave's and Tavily's public API when absent"),
    api_key: SearchApiKey.optional().describe('the subscription token (brave) or API key (tavily); sealed, never returned'),
  })
  .superRefine((request, context) => {
    if (request.kind === 'searxng' && request.endpoint === undefined) {
      context.addIssue({ code: 'custom', path: ['endpoint'], message: "searxng needs the instance's URL (its JSON API must be enabled: search.formats includes json)" });
    }
    if (request.kind === 'searxng' && request.api_key !== undefined) {
      context.addIssue({ code: 'custom', path: ['api_key'], message: 'searxng takes no api_key; leave it out' });
    }
    if (request.kind !== 'searxng' && request.api_key === undefined) {
      context.addIssue({ code: 'custom', path: ['api_key'], message: `${request.kind} needs its api_key` });
    }
  })
  .meta({ id: 'WebSearchProviderRequest' });
export type WebSearchProviderRequest = z.infer<typeof WebSearchProviderRequest>;

export const WebSearchProviderSummary = z
  .object({
    kind: z.enum(WEB_SEARCH_PROVIDER_KINDS),
    endpoint: z.string().nullable().describe("null: the provider's public API"),
    api_key: z.string().nullable().describe('a hint of the key (****abcd); never the key; null when there is none'),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'WebSearchProviderSummary' });
export type WebSearchProviderSummary = z.infer<typeof WebSearchProviderSummary>;
