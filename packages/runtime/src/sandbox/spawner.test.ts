import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnerPath } from '../seccomp.js';
import { SpawnError, Spawner, type SpawnRequest } from './spawner.js';

const uid = 62000 + Math.floor(Math.random() * 3000);
const directory = mkdtempSync(join(tmpdir(), 'airlock-spawner-'));
let spawner = new Spawner(spawnerPath(), join(directory, 'mounts'));

afterEach(async () => {
  await spawner.close();
  spawner = new Spawner(spawnerPath(), join(directory, 'mounts'));
});
afterAll(async () => {
  await spawner.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Runs a shell script as the unprivileged uid with fd 1 on a fresh file; returns its exit status and output. */
async function runScript(script: string, overrides: Partial<SpawnRequest> = {}): Promise<{ code: number | null; output: string }> {
  const output = join(directory, `out-${Math.random().toString(16).slice(2)}`);
  writeFileSync(output, '');
  const spawned = await spawner.spawn({
    uid,
    gid: uid,
    files: [{ mode: 'w', path: output }],
    cgroupProcsFiles: [],
    argv: ['/bin/sh', '-c', script],
    ...overrides,
  });
  const code = await spawned.exited;
  return { code, output: readFileSync(output, 'utf8') };
}

function isAlive(pid: number): boolean {
  try {
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return state !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describe('sandbox spawner', () => {
  it('runs the program as the requested unprivileged user with no supplementary groups', async () => {
    const { code, output } = await runScript('id -u; id -g; id -G; exit 7');
    expect(code).toBe(7);
    expect(output.split('\n').slice(0, 3)).toEqual([String(uid), String(uid), String(uid)]);
  });

  it('reports death by a signal as 128 + the signal', async () => {
    expect((await runScript('kill -9 $$')).code).toBe(137);
  });

  it('passes only the listed files: fd 0 is /dev/null, nothing of the server or the spawner leaks', async () => {
    const { output } = await runScript('readlink /proc/$$/fd/*');
    const targets = output.trim().split('\n');
    expect(targets[0]).toBe('/dev/null');
    expect(targets[1]).toMatch(/\/out-/);
    expect(targets).toHaveLength(2);
  });

  it('refuses uid 0, a relative program and a file it cannot open, and keeps serving afterwards', async () => {
    await expect(runScript('true', { uid: 0 })).rejects.toBeInstanceOf(SpawnError);
    await expect(runScript('true', { argv: ['sh', '-c', 'true'] })).rejects.toBeInstanceOf(SpawnError);
    await expect(runScript('true', { files: [{ mode: 'r', path: join(directory, 'missing') }] })).rejects.toThrow(
      /errno 2\b/,
    );
    // A named pipe nobody reads: opening its write end must fail at once, never block the spawner.
    const fifo = join(directory, 'unread');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [fifo]);
    await expect(runScript('true', { files: [{ mode: 'w', path: fifo }] })).rejects.toThrow(/errno 6\b/);
    expect((await runScript('exit 3')).code).toBe(3);
  });

  it('runs the network tools as root with their output in a file, and refuses any other program as root', async () => {
    const output = join(directory, 'command.out');
    writeFileSync(output, '');
    expect(await spawner.command(['/usr/sbin/ip', '-V'], output)).toBe(0);
    expect(readFileSync(output, 'utf8')).toMatch(/^ip utility/);
    await expect(spawner.command(['/bin/sh', '-c', 'id'], output)).rejects.toThrow(/errno 1\b/);
    await expect(spawner.command(['ip', '-V'], output)).rejects.toThrow(/errno 22\b/);
  });

  it('rejects arguments with NUL bytes before sending anything', async () => {
    await expect(runScript('true', { argv: ['/bin/sh', '-c', 'true\0'] })).rejects.toBeInstanceOf(SpawnError);
  });

  it('takes everything it started down with it when it dies, and a new spawner starts on the next request', async () => {
    const output = join(directory, 'sleeper');
    writeFileSync(output, '');
    const sleeper = await spawner.spawn({
      uid,
      gid: uid,
      files: [{ mode: 'w', path: output }],
      cgroupProcsFiles: [],
      argv: ['/bin/sh', '-c', 'echo $$; exec sleep 100'],
    });
    expect(isAlive(sleeper.pid)).toBe(true);
    const firstSpawner = spawner.pid!;
    process.kill(firstSpawner, 'SIGKILL');
    expect(await sleeper.exited).toBeNull();
    expect(await waitFor(() => !isAlive(sleeper.pid))).toBe(true);
    expect((await runScript('exit 0')).code).toBe(0);
    expect(spawner.pid).not.toBe(firstSpawner);
  });

  it('binds a directory below a root without following links planted there, read-only before it is attached', async () => {
    const source = join(directory, 'volume');
    mkdirSync(join(source, 'a', 'b'), { recursive: true });
    writeFileSync(join(source, 'a', 'b', 'file'), 'inside');
    symlinkSync('/etc', join(source, 'evil'));
    symlinkSync('/', join(source, 'a', 'up'));
    const target = (name: string) => {
      const path = join(directory, 'mounts', name);
      mkdirSync(path, { recursive: true });
      return path;
    };
    const writable = target('rw');
    await spawner.bind(source, 'a/b', writable, { readOnly: false });
    expect(readFileSync(join(writable, 'file'), 'utf8')).toBe('inside');
    writeFileSync(join(writable, 'written'), 'x');
    expect(readFileSync(join(source, 'a', 'b', 'written'), 'utf8')).toBe('x');
    await spawner.unmount(writable);

    const readOnly = target('ro');
    await spawner.bind(source, 'a', readOnly, { readOnly: true });
    expect(() => writeFileSync(join(readOnly, 'b', 'file'), 'changed')).toThrow(/EROFS/);
    await spawner.unmount(readOnly);

    // ELOOP: a symbolic link anywhere in the path, the last segment included; EPERM: "..", or a target elsewhere.
    await expect(spawner.bind(source, 'evil', target('link'), { readOnly: true })).rejects.toThrow('(errno 40)');
    await expect(spawner.bind(source, 'a/up/etc', target('link'), { readOnly: true })).rejects.toThrow('(errno 40)');
    await expect(spawner.bind(source, 'a/../..', target('link'), { readOnly: true })).rejects.toThrow('(errno 1)');
    await expect(spawner.bind(source, 'a', join(directory, 'elsewhere'), { readOnly: true })).rejects.toThrow('(errno 1)');
    await expect(spawner.bind(source, 'missing', target('link'), { readOnly: true })).rejects.toThrow('(errno 2)');

    const created = target('created');
    await spawner.bind(source, 'new/deep', created, { readOnly: false, create: { uid, gid: uid } });
    expect(statSync(join(source, 'new', 'deep')).uid).toBe(uid);
    expect(statSync(join(source, 'new')).uid).toBe(uid);
    await spawner.unmount(created);
    await expect(spawner.bind(source, 'evil/x', target('link'), { readOnly: false, create: { uid, gid: uid } })).rejects.toThrow('(errno 40)');
  });

  it('exits when the server closes it', async () => {
    await runScript('true');
    const pid = spawner.pid!;
    await spawner.close();
    expect(await waitFor(() => !isAlive(pid))).toBe(true);
    await expect(spawner.spawn({ uid, gid: uid, files: [], cgroupProcsFiles: [], argv: ['/bin/true'] })).rejects.toThrow(
      /closed/,
    );
  });
});
