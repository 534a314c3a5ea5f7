import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture, type ExecuteResult } from './support/airlock-fixture.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

let counter = 0;
const newThread = () => `thread-${process.pid}-${counter++}`;

describe('threads: persistent homes', () => {
  it('files, dotfiles, permissions, symlinks and deletions persist; without thread_id the home is fresh', async () => {
    const thread = newThread();
    const first = await airlock.execute({
      language: 'bash',
      thread_id: thread,
      code: [
        'set -e',
        'mkdir -p project/src && echo "print(1)" > project/src/main.py',
        'echo "alias ll=ls" > .bashrc && chmod 640 .bashrc',
        'ln -s project/src/main.py main-link',
        'echo bye > doomed.txt',
        'echo saved',
      ].join('\n'),
    });
    expect(first).toMatchObject({ status: 'success', stdout: 'saved\n' });
    const second = await airlock.execute({
      language: 'python',
      thread_id: thread,
      code: [
        'import os, stat',
        'print(open("project/src/main.py").read().strip(), oct(stat.S_IMODE(os.stat(".bashrc").st_mode)))',
        'print(os.readlink("main-link"), os.path.exists("doomed.txt"))',
        'os.remove("doomed.txt")',
      ].join('\n'),
    });
    expect(second).toMatchObject({ status: 'success', stdout: 'print(1) 0o640\nproject/src/main.py True\n' });
    const third = await airlock.execute({ language: 'bash', thread_id: thread, code: 'ls -A' });
    expect(third.stdout).toBe('.bashrc\nmain-link\nproject\n');
    const ephemeral = await airlock.execute({ language: 'bash', code: 'ls -A | wc -l' });
    expect(ephemeral.stdout).toBe('0\n');
  });

  it('user-installed python and npm packages stay installed', async () => {
    const thread = newThread();
    const install = await airlock.execute({
      language: 'bash',
      thread_id: thread,
      timeout: 120,
      code: [
        'set -e',
        'mkdir -p src/hello_pkg/hello_pkg',
        'printf "def greet():\\n    return \\"hello from pip\\"\\n" > src/hello_pkg/hello_pkg/__init__.py',
        'printf "from setuptools import setup\\nsetup(name=\\"hello-pkg\\", version=\\"1.0\\", packages=[\\"hello_pkg\\"])\\n" > src/hello_pkg/setup.py',
        'pip install --user --no-index --no-build-isolation --quiet ./src/hello_pkg 2>&1 | grep -v WARNING || true',
        'mkdir -p src/left-pad && cd src/left-pad',
        'echo "{\\"name\\": \\"tiny-pad\\", \\"version\\": \\"1.0.0\\", \\"main\\": \\"index.js\\"}" > package.json',
        'echo "module.exports = (s) => \\"[\\" + s + \\"]\\";" > index.js',
        'npm pack --silent >/dev/null && cd ~ && npm install --offline --no-audit --no-fund --silent ./src/left-pad/tiny-pad-1.0.0.tgz',
        'rm -rf src',
      ].join('\n'),
    });
    expect(install).toMatchObject({ status: 'success' });
    const python = await airlock.execute({ thread_id: thread, code: 'import hello_pkg; print(hello_pkg.greet())' });
    expect(python).toMatchObject({ status: 'success', stdout: 'hello from pip\n' });
    const node = await airlock.execute({ language: 'node', thread_id: thread, code: 'console.log(require("tiny-pad")("x"))' });
    expect(node).toMatchObject({ status: 'success', stdout: '[x]\n' });
  });

  it('runs one execution per thread: a concurrent call gets 409 thread_busy, leaving no mount behind; other threads run in parallel', async () => {
    const thread = newThread();
    const call = (threadId: string, code = 'sleep 1; echo done') =>
      airlock.request<ExecuteResult & { error: string }>('/v1/sandbox/execute', {
        method: 'POST',
        json: { language: 'bash', thread_id: threadId, code },
      });
    const [a, b, other] = await Promise.all([call(thread), call(thread), call(newThread())]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    const busy = a.status === 409 ? a : b;
    expect(busy.body.error).toBe('thread_busy');
    expect(other.status).toBe(200);
    // Released afterwards.
    expect((await call(thread)).status).toBe(200);

    // Refused calls while one runs: the sandboxes they took are torn down with their homes' writable layers.
    const running = call(thread, 'sleep 2');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const refused = await Promise.all(Array.from({ length: 6 }, () => call(thread)));
    expect(refused.map((result) => result.status)).toEqual(Array(6).fill(409));
    expect((await running).status).toBe(200);
    const homes = join(airlock.dataDirectory, 'run', 'mounts');
    const upperMounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.split(' ')[4]?.startsWith(`${homes}/`) && line.split(' ')[4]?.endsWith('/upper'));
    await expect.poll(upperMounts, { timeout: 5_000 }).toEqual([]);
  });

  it('a timed-out call still saves what it wrote', async () => {
    const thread = newThread();
    const timedOut = await airlock.execute({
      language: 'bash',
      thread_id: thread,
      timeout: 1,
      code: 'echo partial > progress.txt; sleep 30',
    });
    expect(timedOut.status).toBe('timeout');
    const next = await airlock.execute({ language: 'bash', thread_id: thread, code: 'cat progress.txt' });
    expect(next.stdout).toBe('partial\n');
  });

  it('long chains are compacted in the background into one layer showing the same home', async () => {
    const thread = newThread();
    for (let index = 0; index < 12; index++) {
      await airlock.execute({
        language: 'bash',
        thread_id: thread,
        code: `echo ${index} > counter.txt; mkdir -p d${index % 3}; echo ${index} > d${index % 3}/f; rm -rf d${(index + 1) % 3}`,
      });
    }
    // The home's overlay lists its layers in its mount options, visible to the code itself.
    const countLayers = 'grep -o "lowerdir=[^,]*" /proc/self/mountinfo | tail -1 | tr ":" "\\n" | wc -l; cat counter.txt; ls -d d*; cat d*/f';
    let result = await airlock.execute({ language: 'bash', thread_id: thread, code: countLayers });
    for (let attempt = 0; attempt < 50 && Number(result.stdout.split('\n')[0]) >= 12; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      result = await airlock.execute({ language: 'bash', thread_id: thread, code: countLayers });
    }
    const [layers, ...home] = result.stdout.trim().split('\n');
    // 12 saves, compacted above 8 layers: one merged layer plus whatever was saved while it was being merged.
    expect(Number(layers)).toBeLessThanOrEqual(8);
    expect(home).toEqual(['11', 'd1', 'd2', '10', '11']);
  });

  it('fork starts a new thread from the current home; the two then diverge', async () => {
    const source = newThread();
    const copy = newThread();
    await airlock.execute({ language: 'bash', thread_id: source, code: 'echo original > shared.txt' });
    const fork = await airlock.request(`/v1/threads/${source}/fork`, { method: 'POST', json: { thread_id: copy } });
    expect(fork.status).toBe(201);
    expect(fork.body).toEqual({ thread_id: copy, forked_from: source });
    await airlock.execute({ language: 'bash', thread_id: copy, code: 'echo changed > shared.txt; echo new > only-in-fork.txt' });
    expect((await airlock.execute({ language: 'bash', thread_id: source, code: 'cat shared.txt; ls' })).stdout).toBe(
      'original\nshared.txt\n',
    );
    expect((await airlock.execute({ language: 'bash', thread_id: copy, code: 'cat shared.txt' })).stdout).toBe('changed\n');
    const again = await airlock.request(`/v1/threads/${source}/fork`, { method: 'POST', json: { thread_id: copy } });
    expect([again.status, again.body.error]).toEqual([409, 'conflict']);
    const missing = await airlock.request(`/v1/threads/no-such-thread-${counter}/fork`, { method: 'POST', json: { thread_id: newThread() } });
    expect(missing.status).toBe(404);
  });

  it('export streams the home as a tar.gz with files, directories, modes and symlinks', async () => {
    const thread = newThread();
    await airlock.execute({
      language: 'bash',
      thread_id: thread,
      code: 'mkdir -p a/b; echo deep > a/b/c.txt; printf "#!/bin/sh\\n" > run.sh; chmod 750 run.sh; ln -s a/b/c.txt link; echo gone > gone.txt',
    });
    await airlock.execute({ language: 'bash', thread_id: thread, code: 'rm gone.txt' });
    const response = await fetch(`${airlock.url}/v1/threads/${thread}/export`, {
      headers: { authorization: `Bearer ${airlock.apiKey}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/gzip');
    const directory = await mkdtemp(join(tmpdir(), 'airlock-export-'));
    try {
      const archive = join(directory, 'home.tar.gz');
      await writeFile(archive, Buffer.from(await response.arrayBuffer()));
      const listing = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n').sort();
      expect(listing).toEqual(['a/', 'a/b/', 'a/b/c.txt', 'link', 'run.sh']);
      execFileSync('tar', ['-xzf', archive, '-C', directory]);
      expect(await readFile(join(directory, 'a/b/c.txt'), 'utf8')).toBe('deep\n');
      expect((await stat(join(directory, 'run.sh'))).mode & 0o777).toBe(0o750);
      expect(await readlink(join(directory, 'link'))).toBe('a/b/c.txt');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    const unknown = await airlock.request(`/v1/threads/never-made-${counter}/export`);
    expect(unknown.status).toBe(404);
  });

  // A background loop keeps replacing d (a directory with a file) by a symlink to /etc and back; the call returns
  // while it runs. The save happens only once every process of the sandbox is gone. In bash the loop holds the
  // output; python's closes it, so the interpreter's exit report is believed while the loop still runs.
  const SWAP_LOOP = 'mkdir d; echo mine > d/f; echo kept > kept.txt; while true; do rm -rf d; ln -s /etc d; rm -f d; mkdir d; echo mine > d/f; done';
  it.each([
    ['bash', `(${SWAP_LOOP}) &\nsleep 0.3; echo started`],
    ['python', `import subprocess, time\nsubprocess.Popen(["bash", "-c", ${JSON.stringify(SWAP_LOOP)}], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\ntime.sleep(0.3); print("started")`],
  ] as const)('a directory swapped for a symlink while the call ends is saved as what it was, never followed (%s)', async (language, code) => {
    const thread = newThread();
    const result = await airlock.execute({ language, thread_id: thread, code });
    expect(result.stdout).toBe('started\n');
    const next = await airlock.execute({
      language: 'bash',
      thread_id: thread,
      code: 'cat kept.txt; if [ -L d ]; then echo "symlink $(readlink d)"; elif [ -d d ]; then echo "directory $(ls d)"; else echo absent; fi',
    });
    expect(next.stdout).toMatch(/^kept\n(symlink \/etc|directory (f)?|absent)\n$/);
    // No host file content reached the blob store.
    const root = join(airlock.dataDirectory, 'blobs', 'sha256');
    const stored = new Set(readdirSync(root).flatMap((prefix) => readdirSync(join(root, prefix))));
    for (const hostFile of ['/etc/passwd', '/etc/hostname', '/etc/os-release']) {
      const digest = createHash('sha256').update(readFileSync(hostFile)).digest('hex');
      expect(stored.has(digest)).toBe(false);
    }
  });
});
