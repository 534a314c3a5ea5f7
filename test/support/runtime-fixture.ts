import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
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
