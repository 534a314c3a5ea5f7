import { describe, expect, it } from 'vitest';
import { SandboxStartError, type SandboxLanguage, type SandboxLimits } from '../packages/runtime/src/index.js';
import { testSandboxUid } from './support/airlock-fixture.js';
import { useTestRuntime } from './support/runtime-fixture.js';
import { noProcessesLeft } from './support/host-inspection.js';

// bubblewrap's own messages reach the start error whichever descriptors it holds: stderr for node and bash, a pipe of
// its own for python, whose output pipes it does not hold (docs/decisions/0002-language-stubs-and-real-pipes.md).
const sandboxUid = testSandboxUid();
const fixture = useTestRuntime({
  prefix: 'airlock-start-failure-',
  sandboxUid,
  pool: { maxSlots: 0, maxSlotsPerKey: 0, maxConcurrentRefills: 1, idleMs: 60_000 },
});

describe('a sandbox that cannot start', () => {
  it.each(['python', 'node', 'bash'] as SandboxLanguage[])('reports bubblewrap\'s message (%s)', async (language) => {
    // One process in the cgroup: bubblewrap cannot fork the sandbox's pid 1.
    const limits: SandboxLimits = { cpus: 1, memoryBytes: 256 << 20, pids: 1, tmpBytes: 16 << 20, homeBytes: 16 << 20 };
    const sandbox = await fixture.runtime.prepare({ image: 'default', language, limits, start: 'fresh' });
    const error = await sandbox.ready.then(() => null, (reason: unknown) => reason);
    expect(error).toBeInstanceOf(SandboxStartError);
    expect(String(error)).toMatch(/sandbox failed to start: it exited with 1: bwrap: .*(Resource temporarily unavailable|fork|clone)/i);
    await sandbox.destroy();
    expect(await noProcessesLeft(sandboxUid)).toEqual([]);
  }, 60_000);
});
