import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/**
 * `.cache/images` in the checkout, unless the checkout sits below a directory the sandbox user cannot traverse
 * (bubblewrap opens the image as that user); then a shared directory under /var/tmp.
 */
function defaultImagesDirectory(): string {
  for (let directory = repository; directory !== dirname(directory); directory = dirname(directory)) {
    if ((statSync(directory).mode & 0o001) === 0) return '/var/tmp/airlock-test-images';
  }
  return join(repository, '.cache', 'images');
}

/** Builds what the tests need once: the packages and native helpers, and the default runtime image. */
export default async function setup(project: TestProject): Promise<void> {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: repository, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed; the CLI tests run the built command');
  const imagesDirectory = process.env.AIRLOCK_TEST_IMAGES_DIR ?? defaultImagesDirectory();
  const store = new ImageStore({ directory: imagesDirectory });
  await store.ensure('default', (line) => process.stderr.write(`[image] ${line}\n`));
  project.provide('imagesDirectory', imagesDirectory);
}
