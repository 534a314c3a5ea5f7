import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { SandboxRuntime, type SandboxRuntimeOptions } from '../../packages/runtime/src/index.js';

/**
 * A sandbox runtime on a fresh directory (traversable by the sandbox user, as bubblewrap needs to reach the homes
 * below it), with the test image loaded. Its state is `<directory>/run`.
 */
export async function startTestRuntime(options: {
  prefix: string;
  sandboxUid: number;
  pool: SandboxRuntimeOptions['pool'];
  network?: SandboxRuntimeOptions['network'];
}): Promise<{ runtime: SandboxRuntime; directory: string }> {
  const directory = await mkdtemp(join(tmpdir(), options.prefix));
  await chmod(directory, 0o711);
  const runtime = await SandboxRuntime.start({
    stateDirectory: join(directory, 'run'),
    imagesDirectory: inject('imagesDirectory'),
    sandboxUid: options.sandboxUid,
    sandboxGid: options.sandboxUid,
    outputLimitBytes: 64 * 1024,
    pool: options.pool,
    network: options.network,
  });
  await runtime.loadImage('default');
  return { runtime, directory };
}

/**
 * A test file's runtime (startTestRuntime's): started before the file's tests and closed, its directory removed,
 * after them. Its fields are set once the tests run.
 */
export function useTestRuntime(options: Parameters<typeof startTestRuntime>[0]): { runtime: SandboxRuntime; directory: string } {
  const started = {} as { runtime: SandboxRuntime; directory: string };
  beforeAll(async () => {
    Object.assign(started, await startTestRuntime(options));
  }, 120_000);
  afterAll(async () => {
    await started.runtime?.close();
    if (started.directory) await rm(started.directory, { recursive: true, force: true });
  });
  return started;
}
