import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { ImageStore } from '../packages/runtime/src/image/image-store.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Runtime images shared by every test server; built once per machine. */
    imagesDirectory: string;
  }
}

const repository = fileURLToPath(new URL('..', import.meta.url));

/** Builds what the tests need once: the packages and native helpers, and the default runtime image. */
export default async function setup(project: TestProject): Promise<void> {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: repository, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed; the CLI tests run the built command');
  const imagesDirectory = process.env.AIRLOCK_TEST_IMAGES_DIR ?? `${repository}.cache/images`;
  const store = new ImageStore({ directory: imagesDirectory });
  await store.ensure('default', (line) => process.stderr.write(`[image] ${line}\n`));
  project.provide('imagesDirectory', imagesDirectory);
}
