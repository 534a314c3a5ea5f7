import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * JavaScript runtimes besides the system Node that runs the suite, unpacked by scripts/install-test-runtimes.sh (run
 * by `scripts/setup.sh --test`) from the npm packages that ship their Linux binaries.
 */
export type Runtime = 'node18' | 'node22' | 'deno' | 'bun' | 'workerd';

export function runtimeBinary(runtime: Runtime): string {
  const path = fileURLToPath(new URL(`../../../../.cache/runtimes/${runtime}/runtime`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing: run scripts/setup.sh --test (or scripts/install-test-runtimes.sh)`);
  return path;
}
