import type { Database, Queryable } from './database.js';

/**
 * Erases an organization's data in one transaction, unless it has executions running (then `{ running }`): its
 * keys are revoked, its executions (with their webhook deliveries), threads, connectors, storage connections and
 * attachments, search provider (with its sealed key) and memberships deleted, its volumes and sandbox configs and the organization itself
 * marked deleted (their rows stay for the records that name them). The audit log is kept until its retention ends.
 * Returns how many of each went; null when there is no such organization.
 */
export async function eraseOrganization(database: Database, id: string): Promise<{ erased: Record<string, number> } | { running: number } | null> {
  const run = async (tx: Queryable) => {
    const [organization] = await tx.query<{ id: string }>('SELECT id FROM organizations WHERE id = $1 AND deleted_at IS NULL FOR UPDATE', [id]);
    if (!organization) return null;
    const [running] = await tx.query<{ count: number }>("SELECT count(*)::int AS count FROM executions WHERE org_id = $1 AND status = 'running'", [id]);
    if ((running?.count ?? 0) > 0) return { running: running?.count ?? 0 };
    const count = async (sql: string) => (await tx.query(sql, [id])).length;
    const erased = {
      api_keys: await count('UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE org_id = $1 RETURNING id'),
      executions: await count('DELETE FROM executions WHERE org_id = $1 RETURNING trace_id'),
      threads: await count('DELETE FROM threads WHERE org_id = $1 RETURNING thread_id'),
      connector_attachments: await count('DELETE FROM sandbox_connectors WHERE org_id = $1 RETURNING connector_id'),
      connectors: await count('DELETE FROM connectors WHERE org_id = $1 RETURNING id'),
      storage_attachments: await count('DELETE FROM storage_attachments WHERE org_id = $1 RETURNING id'),
      storage_connections: await count('DELETE FROM storage_connections WHERE org_id = $1 RETURNING id'),
      web_search_providers: await count('DELETE FROM web_search_providers WHERE org_id = $1 RETURNING org_id'),
      volumes: await count('UPDATE volumes SET deleted_at = now() WHERE org_id = $1 AND deleted_at IS NULL RETURNING id'),
      members: await count('DELETE FROM memberships WHERE org_id = $1 RETURNING user_id'),
      sandbox_configs: await count('UPDATE sandbox_configs SET deleted_at = now() WHERE org_id = $1 AND deleted_at IS NULL RETURNING id'),
    };
    await tx.query('UPDATE organizations SET deleted_at = now() WHERE id = $1', [id]);
    return { erased };
  };
  return database.transaction(run);
}
