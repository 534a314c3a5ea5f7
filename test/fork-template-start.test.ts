import { afterAll, describe, expect, it } from 'vitest';
import type { Logger } from '../packages/server/src/shared/logger.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { processesOfUid } from './support/host-inspection.js';

/** A server whose log lines are kept, and a way to wait for one. */
async function loggedAirlock(options: Parameters<typeof startAirlock>[0] = {}): Promise<{ airlock: AirlockFixture; logged: (message: string) => Promise<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const log = (message: string, fields: Record<string, unknown> = {}): void => void lines.push({ message, ...fields });
  const logger: Logger = { info: log, warn: log, error: log };
  const airlock = await startAirlock({ ...options, keepDataDirectory: true, logger });
  const logged = async (message: string): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const line = lines.find((entry) => entry.message === message);
      if (line) return line;
      if (Date.now() > deadline) throw new Error(`no "${message}" in the log: ${JSON.stringify(lines.map((entry) => entry.message))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { airlock, logged };
}

/** The template's python processes: the sandbox user's, outside any execution (none runs here). */
const pythonsOfSandboxUser = (uid: number): string[] => processesOfUid(uid).filter((line) => line.split(' ')[1]?.startsWith('python'));

describe('fork templates start before the first call that forks', () => {
  const servers: AirlockFixture[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
    await servers[0]?.removeDataDirectory();
  });

  it('when a sandbox config is set to fork, and again when the server restarts', async () => {
    const first = await loggedAirlock();
    servers.push(first.airlock);
    const { sandboxUid } = first.airlock;
    expect(pythonsOfSandboxUser(sandboxUid)).toEqual([]);

    expect(await first.airlock.admin('/admin/v1/sandboxes/default', { start: 'fork' }, 'PATCH')).toMatchObject({ start: 'fork' });
    expect(await first.logged('fork template started')).toMatchObject({ image: 'default', milliseconds: expect.any(Number) });
    expect(pythonsOfSandboxUser(sandboxUid)).not.toEqual([]);
    expect(await first.airlock.execute({ code: 'import sys; print("pandas" in sys.modules)' })).toMatchObject({ status: 'success', stdout: 'True\n' });
    await first.airlock.close();
    expect(pythonsOfSandboxUser(sandboxUid)).toEqual([]);

    const second = await loggedAirlock({ dataDirectory: first.airlock.dataDirectory, environment: { AIRLOCK_BOOTSTRAP_API_KEY: first.airlock.apiKey } });
    servers.push(second.airlock);
    expect(await second.logged('fork template started')).toMatchObject({ image: 'default' });
    expect(pythonsOfSandboxUser(second.airlock.sandboxUid)).not.toEqual([]);
  }, 180_000);
});
