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

/** Builds what every sandbox test needs once: the seccomp program and the default runtime image. */
export default async function setup(project: TestProject): Promise<void> {
  const native = spawnSync('bash', ['packages/runtime/native/build.sh'], { cwd: repository, stdio: 'inherit' });
  if (native.status !== 0) throw new Error('building the seccomp program failed (packages/runtime/native/build.sh)');
  const imagesDirectory = process.env.AIRLOCK_TEST_IMAGES_DIR ?? `${repository}.cache/images`;
  const store = new ImageStore({ directory: imagesDirectory });
  await store.ensure('default', (line) => process.stderr.write(`[image] ${line}\n`));
  project.provide('imagesDirectory', imagesDirectory);
}
