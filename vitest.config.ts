import { defineConfig } from 'vitest/config';

/** Tests that need root, bubblewrap or the native helpers, though they sit beside their code. */
const HOST_TESTS = [
  'packages/runtime/src/sandbox/spawner.test.ts',
  'packages/runtime/src/seccomp.test.ts',
  'packages/storage/src/local-blob-store-full-disk.test.ts',
  'packages/server/src/threads/thread-service.test.ts',
  'packages/runtime/src/network/sandbox-resolver.test.ts',
];
/** Database tests of both backends: on PGlite as unit tests, on PostgreSQL as system tests (AIRLOCK_TEST_BACKENDS). */
const DATABASE_TESTS = ['database', 'audit-repository', 'user-repository', 'migrations', 'repositories', 'storage-repositories', 'webhook-repository', 'image-repository', 'connector-repository', 'usage-repository', 'web-search-provider-repository'].map((name) => `packages/db/src/${name}.test.ts`);

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources, never to a stale dist/. The condition is named for this
  // project: Node applies it to every package, and some dependencies export TypeScript under a plain "source".
  resolve: { conditions: ['airlock-source'] },
  ssr: { resolve: { conditions: ['airlock-source'], externalConditions: ['airlock-source'] } },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        // The inner loop: no root, no image, no build (npm run test:unit).
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude: HOST_TESTS,
          env: { AIRLOCK_TEST_BACKENDS: 'pglite' },
        },
      },
      {
        // Real sandboxes, servers, databases and clients, on a host set up by scripts/setup.sh --test.
        extends: true,
        test: {
          name: 'system',
          include: ['test/**/*.test.ts', 'packages/sdk/test/**/*.test.ts', ...HOST_TESTS, ...DATABASE_TESTS],
          env: { AIRLOCK_TEST_BACKENDS: 'postgres' },
          globalSetup: ['test/global-setup.ts'],
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
