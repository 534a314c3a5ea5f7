import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pullImage, registryOf, type SkopeoOptions } from './skopeo.js';

/**
 * A stand-in skopeo: it records each command line (one argument per line, then a blank line) and, for an authfile
 * argument, that file's mode and content at the time, in calls.log beside itself; it writes a digest where asked and
 * fails when FAIL exists beside it.
 */
const STAND_IN = `#!/bin/bash
log="$(dirname "$0")/calls.log"
previous=
for argument in "$@"; do
  printf '%s\\n' "$argument" >> "$log"
  case "$previous" in
    --src-authfile) printf 'authfile %s %s\\n' "$(stat -c %a "$argument")" "$(cat "$argument")" >> "$log" ;;
    --digestfile) echo "sha256:$(printf '%064d' 7)" > "$argument" ;;
  esac
  previous=$argument
done
echo >> "$log"
echo "Copying blob sha256:0000"
[[ -e "$(dirname "$0")/FAIL" ]] && { echo "unauthorized" >&2; exit 1; }
exit 0
`;

const CREDENTIALS = { username: 'robot', password: 'pa55-w0rd-secret' };

let directory: string;
let options: SkopeoOptions;
const progress: string[] = [];

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'airlock-skopeo-'));
  const skopeoPath = join(directory, 'skopeo');
  await writeFile(skopeoPath, STAND_IN);
  await chmod(skopeoPath, 0o755);
  const workDirectory = join(directory, 'work');
  await writeFile(join(directory, 'calls.log'), '');
  await mkdir(workDirectory, { mode: 0o700 });
  options = { skopeoPath, workDirectory, architecture: 'amd64', onProgress: (line) => progress.push(line) };
  progress.length = 0;
});
afterEach(() => rm(directory, { recursive: true, force: true }));

async function calls(): Promise<string[][]> {
  const log = await readFile(join(directory, 'calls.log'), 'utf8');
  return log.split('\n\n').filter(Boolean).map((call) => call.split('\n'));
}

describe('pulling with registry credentials', () => {
  it('hands them over in a mode-0600 authfile only, removed once the pull ends; never on a command line', async () => {
    const digest = await pullImage(
      options,
      { kind: 'registry', reference: 'registry.example.com:5000/team/python:3.13', credentials: CREDENTIALS },
      { layout: join(directory, 'layout'), tag: 'image' },
    );
    expect(digest).toBe(`sha256:${'7'.padStart(64, '0')}`);
    const [pull, convert] = await calls();
    const authfileLine = pull!.find((line) => line.startsWith('authfile '))!;
    const auth = Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString('base64');
    expect(authfileLine).toBe(`authfile 600 ${JSON.stringify({ auths: { 'registry.example.com:5000': { auth } } })}`);
    const argumentsOnly = [...pull!, ...convert!].filter((line) => !line.startsWith('authfile '));
    for (const secret of [CREDENTIALS.password, auth]) expect(argumentsOnly.join('\n')).not.toContain(secret);
    expect(pull).toEqual(expect.arrayContaining(['--override-arch', 'amd64', '--src-tls-verify=true', 'docker://registry.example.com:5000/team/python:3.13']));
    expect(convert).toEqual(expect.arrayContaining([`dir:${join(options.workDirectory, 'pulled')}`, `oci:${join(directory, 'layout')}:image`]));
    expect(await readdir(options.workDirectory)).not.toContain('auth.json');
    expect(progress).toContain('Copying blob sha256:0000');
  });

  it('removes the authfile when the pull fails too', async () => {
    await writeFile(join(directory, 'FAIL'), '');
    const pulling = pullImage(
      options,
      { kind: 'registry', reference: 'ghcr.io/team/python:3.13', credentials: CREDENTIALS, tlsVerify: false },
      { layout: join(directory, 'layout'), tag: 'image' },
    );
    await expect(pulling).rejects.toThrow(/skopeo failed \(exit code 1\):[\s\S]*unauthorized/);
    const [pull] = await calls();
    expect(pull).toContain('--src-tls-verify=false');
    expect(pull!.find((line) => line.startsWith('authfile '))).toMatch(/^authfile 600 \{"auths":\{"ghcr.io":/);
    expect(await readdir(options.workDirectory)).not.toContain('auth.json');
  });

  it('uses no credentials at all without them, not the host logins', async () => {
    await pullImage(options, { kind: 'registry', reference: 'python:3.13' }, { layout: join(directory, 'layout'), tag: 'image' });
    const [pull] = await calls();
    expect(pull).toContain('--src-no-creds');
    expect(pull).not.toContain('--src-authfile');
  });

  it('refuses what is not a reference, and a username with a colon', async () => {
    const destination = { layout: join(directory, 'layout'), tag: 'image' };
    for (const reference of ['--src-creds=a:b', 'docker://python', 'python 3', '']) {
      await expect(pullImage(options, { kind: 'registry', reference }, destination)).rejects.toThrow(/is not an image reference/);
    }
    await expect(
      pullImage(options, { kind: 'registry', reference: 'python', credentials: { username: 'a:b', password: 'c' } }, destination),
    ).rejects.toThrow(/username cannot contain ":"/);
    expect(await calls()).toEqual([]);
  });
});

describe('registryOf', () => {
  it.each([
    ['python:3.13', 'docker.io'],
    ['library/python@sha256:abc', 'docker.io'],
    ['localhost/team/python', 'localhost'],
    ['registry.example.com/team/python:1', 'registry.example.com'],
    ['127.0.0.1:5000/python', '127.0.0.1:5000'],
  ])('%s is on %s', (reference, registry) => {
    expect(registryOf(reference)).toBe(registry);
  });
});
