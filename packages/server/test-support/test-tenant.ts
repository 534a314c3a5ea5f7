import { ApiKeyRepository, OrganizationRepository, SandboxConfigRepository, openDatabase, type Database } from '@airlock/db';
import { TestBackend } from '../../db/test/test-backend.js';
import type { Principal } from '../src/auth/api-key-service.js';

/**
 * An empty PGlite database for a service test, optionally with one organization, its default sandbox config and an
 * API key (the principal a request would carry). `close()` removes it.
 */
export async function startTestDatabase(): Promise<{
  database: Database;
  /** Creates the tenant a request acts for; `maxTimeoutSeconds` and env vars as the test needs. */
  principal(options?: { maxTimeoutSeconds?: number; sandboxEnv?: Record<string, string>; keyEnv?: Record<string, string> }): Promise<Principal>;
  close(): Promise<void>;
}> {
  const backend = new TestBackend('pglite');
  await backend.start();
  const database = await openDatabase(await backend.freshDatabaseOptions());
  return {
    database,
    principal: async (options = {}) => {
      const organization = await new OrganizationRepository(database).create({
        name: 'Test',
        slug: `test-${Math.random().toString(36).slice(2, 10)}`,
        maxTimeoutSeconds: options.maxTimeoutSeconds,
      });
      const sandboxConfig = await new SandboxConfigRepository(database).create({
        orgId: organization.id,
        name: 'default',
        envVars: options.sandboxEnv,
      });
      const apiKey = await new ApiKeyRepository(database).create({
        orgId: organization.id,
        sandboxConfigId: sandboxConfig.id,
        name: 'test',
        displayPrefix: 'sk-test-abc...',
        secretSha256: Buffer.from(crypto.getRandomValues(new Uint8Array(32))),
        envVars: options.keyEnv,
      });
      return { organization, sandboxConfig, apiKey };
    },
    close: async () => {
      await database.close();
      await backend.stop();
    },
  };
}
