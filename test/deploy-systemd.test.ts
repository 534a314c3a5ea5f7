import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const repository = fileURLToPath(new URL('..', import.meta.url));

it('deploy/systemd/airlock.service passes systemd-analyze verify and starts the built command with node directly', async () => {
  const unit = readFileSync(join(repository, 'deploy/systemd/airlock.service'), 'utf8');
  const execStart = /^ExecStart=(\S+) (\S+) serve$/m.exec(unit);
  expect(execStart?.[1]).toBe('/usr/bin/node');
  expect(execStart?.[2]).toBe('/opt/airlock/packages/cli/dist/main.js');
  expect(existsSync(join(repository, execStart![2]!.replace('/opt/airlock/', '')))).toBe(true);
  for (const setting of ['KillMode=mixed', 'Restart=on-failure', 'Delegate=yes']) expect(unit).toMatch(new RegExp(`^${setting}$`, 'm'));
  expect(unit).toMatch(/^LimitNOFILE=\d+$/m);
  // Verified as installed over this checkout.
  const directory = await mkdtemp(join(tmpdir(), 'airlock-unit-'));
  try {
    const installed = join(directory, 'airlock.service');
    await writeFile(installed, unit.replaceAll('/opt/airlock', repository.replace(/\/$/, '')));
    const verified = spawnSync('systemd-analyze', ['verify', installed], { encoding: 'utf8' });
    expect([verified.status, verified.stderr]).toEqual([0, '']);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
