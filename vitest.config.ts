import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources, never to a stale dist/. The condition is named for this
  // project: Node applies it to every package, and some dependencies export TypeScript under a plain "source".
  resolve: { conditions: ['airlock-source'] },
  ssr: { resolve: { conditions: ['airlock-source'], externalConditions: ['airlock-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/sdk/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
