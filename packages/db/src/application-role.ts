import type { Database } from './database.js';

/**
 * Grants the application's PostgreSQL role what the server needs, run by the role that owns the schema after it
 * migrated: read and write every table, but only read the migrations, and only insert into and read the audit log
 * (its partitions are reached through it, never directly, and the log's owner alone may drop them). Run at every start,
 * so tables of new migrations are granted too.
 */
export async function grantApplicationRole(owner: Database, role: string): Promise<void> {
  await owner.transaction(async (tx) => {
    const [quoted] = await tx.query<{ name: string }>('SELECT quote_ident($1) AS name', [role]);
    const grantee = quoted?.name ?? '';
    const tables = await tx.query<{ name: string; partition: boolean }>(
      `SELECT quote_ident(c.relname) AS name, c.relispartition AS partition FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
    );
    await tx.query(`GRANT USAGE ON SCHEMA public TO ${grantee}`);
    for (const table of tables) {
      await tx.query(`REVOKE ALL ON ${table.name} FROM ${grantee}`);
      if (table.partition) continue;
      const privileges = table.name === 'audit_log' ? 'SELECT, INSERT' : table.name === 'schema_migrations' ? 'SELECT' : 'SELECT, INSERT, UPDATE, DELETE';
      await tx.query(`GRANT ${privileges} ON ${table.name} TO ${grantee}`);
    }
    await tx.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${grantee}`);
    await tx.query(`GRANT EXECUTE ON FUNCTION audit_log_partition(text, timestamptz) TO ${grantee}`);
  });
}
