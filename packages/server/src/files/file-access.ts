import type { Principal } from '../auth/api-key-service.js';

/**
 * What an organization's operators reach in the console: every volume of the organization from its own root,
 * writable; the threads that exist, each keeping its retention.
 */
export interface OperatorAccess {
  kind: 'operators';
  organization: { id: string; slug: string };
}

/**
 * Whose view of an organization's files a Files API request has: an API key's ({@link Principal}), which is what its
 * sandboxes see (a volume attached to its sandbox config, at /data/<mount>, below the key's prefix, read-only when
 * the attachment or the key is; the organization's threads, an upload creating one with the sandbox config's
 * retention), or its operators'.
 */
export type FileAccess = Principal | OperatorAccess;

export function isOperatorAccess(access: FileAccess): access is OperatorAccess {
  return 'kind' in access && access.kind === 'operators';
}
