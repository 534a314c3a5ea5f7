import type { ApiKeySummary, SandboxSummary, WebNarrowing } from '@airlock/contracts';

/** How a key narrows its sandbox config's network, in words. */
export function keyNetwork(key: ApiKeySummary, sandbox: SandboxSummary): string {
  if (key.network === null) return `as the config (${sandbox.network})`;
  if (key.network === 'blocked') return 'blocked';
  return `allowlist: ${(key.network_allow ?? sandbox.network_allow).join(', ')}`;
}

/** How a key narrows its sandbox config's mounts, in words. */
export function keyStorage(key: ApiKeySummary): string {
  const scopes = Object.entries(key.storage);
  if (scopes.length === 0) return 'as attached';
  return scopes
    .map(([mount, scope]) =>
      scope.detached ? `${mount}: detached` : `${mount}: ${scope.prefix ? `${scope.prefix}/` : 'all'}${scope.read_only ? ', read-only' : ''}`,
    )
    .join('; ');
}

/** How a key narrows its sandbox config's web tools, in words. */
export function keyWeb(web: WebNarrowing): string {
  if (web.off) return 'off';
  return [
    web.domains && `allowlist: ${web.domains.entries.join(', ')}`,
    web.https_only && 'https only',
    web.requests_per_minute !== undefined && `${web.requests_per_minute}/min`,
    web.requests_per_call !== undefined && `${web.requests_per_call} per call`,
    web.max_response_bytes !== undefined && `answers up to ${web.max_response_bytes} bytes`,
    web.injection_scan && `scan ${web.injection_scan}`,
    web.search === false && 'no search',
  ]
    .filter(Boolean)
    .join(', ');
}
