import type { ApiKeySummary, SandboxSummary } from '@airlock/contracts';

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
