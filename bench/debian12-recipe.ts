import { SANDBOX_HOOKS, type ImageRecipe } from '@airlock/runtime';

/**
 * The default image's recipe before Debian 13 (docs/decisions/0025-default-image.md): Debian 12 with Python 3.11 and
 * Debian's Node.js 18, which has no V8 start-up snapshot, and the sandbox hooks every image has. For benchmarks that
 * compare the two; named debian12 and built into a directory of the benchmark's own, never a server's.
 */
export const DEBIAN12_RECIPE: ImageRecipe = {
  name: 'debian12',
  suite: 'bookworm',
  packages: ['bash', 'coreutils', 'procps', 'python3', 'python3-pip', 'python3-venv', 'nodejs', 'npm', 'curl', 'ca-certificates', 'git', 'jq'],
  downloads: {},
  customizeHooks: SANDBOX_HOOKS,
  interpreters: { python: '/usr/bin/python3', node: '/usr/bin/node', bash: '/bin/bash' },
};
