import { createHash } from 'node:crypto';
import { BASH_BUILTIN_READ_MAX_BYTES } from '@airlock/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

describe('languages and exit codes', () => {
  it.each([
    ['python', 'print("hello")', 'hello\n'],
    ['node', 'console.log("hello")', 'hello\n'],
    ['bash', 'echo hello', 'hello\n'],
  ])('%s prints to stdout and succeeds', async (language, code, stdout) => {
    const sentAt = performance.now();
    const result = await airlock.execute({ language, code });
    const wallMs = performance.now() - sentAt;
    expect(result).toMatchObject({ success: true, status: 'success', exit_code: 0, stdout, stderr: '', error: null });
    expect(result.trace_id).toMatch(/^trc_[0-9a-z]{20}$/);
    expect(result.stdout_truncated).toBe(false);
    expect(result.overhead_ms).toBeGreaterThan(0);
    expect(result.overhead_ms).toBeLessThan(wallMs);
  });

  it('defaults to python', async () => {
    const result = await airlock.execute({ code: 'import sys; print(sys.version_info[0])' });
    expect(result.stdout).toBe('3\n');
  });

  it.each([
    ['python', 'import sys; print("out"); print("err", file=sys.stderr); sys.exit(3)', 3],
    ['node', 'console.log("out"); console.error("err"); process.exit(4)', 4],
    ['bash', 'echo out; echo err >&2; exit 5', 5],
  ])('%s non-zero exit is a result, not an error', async (language, code, exitCode) => {
    const result = await airlock.execute({ language, code });
    expect(result).toMatchObject({ success: false, status: 'failed', exit_code: exitCode, stdout: 'out\n', stderr: 'err\n' });
  });

  it('python uncaught exception prints a traceback like python3 -c', async () => {
    const code = 'def f():\n    raise ValueError("boom")\nf()';
    const result = await airlock.execute({ code });
    expect(result.exit_code).toBe(1);
    expect(result.stderr).toBe(
      'Traceback (most recent call last):\n' +
        '  File "<string>", line 3, in <module>\n' +
        '    f()\n' +
        '    ~^^\n' +
        '  File "<string>", line 2, in f\n' +
        '    raise ValueError("boom")\n' +
        'ValueError: boom\n',
    );
    const direct = await airlock.execute({ language: 'bash', code: `python3 -c '${code}'` });
    expect(direct).toMatchObject({ exit_code: 1, stderr: result.stderr });
  });

  it('python syntax error is reported without a traceback', async () => {
    const result = await airlock.execute({ code: 'print(' });
    expect(result.exit_code).toBe(1);
    expect(result.stderr).toContain('SyntaxError');
    expect(result.stderr).not.toContain('Traceback');
  });

  it('python runs as __main__ with the argv of python3 -c', async () => {
    const result = await airlock.execute({
      code: 'import sys\nprint(__name__, sys.argv, "__file__" in globals())\nclass A: pass\nimport pickle; print(len(pickle.dumps(A())) > 0)',
    });
    expect(result.stdout).toBe("__main__ ['-c'] False\nTrue\n");
  });

  it('node unhandled rejection fails the run', async () => {
    const result = await airlock.execute({ language: 'node', code: 'Promise.reject(new Error("nope"))' });
    expect(result.exit_code).toBe(1);
    expect(result.stderr).toContain('nope');
  });

  it('node has require, module and __filename like node -e', async () => {
    const result = await airlock.execute({
      language: 'node',
      code: 'console.log(typeof require, typeof module, __filename, require("path").sep)',
    });
    expect(result.stdout).toBe('function object [eval] /\n');
  });

  it('node leaves stdout a blocking pipe until the code first writes, as node -e does (child processes share it)', async () => {
    const code = [
      "const flags = () => parseInt(require('fs').readFileSync('/proc/self/fdinfo/1', 'utf8').split('\\n')[1].split(/\\s+/)[1], 8);",
      'const before = flags() & 0o4000;',
      "require('child_process').execSync('head -c 50000 /dev/zero | tr \"\\\\0\" x', { stdio: 'inherit' });",
      'process.stdout.write(`\\n${before} ${flags() & 0o4000}\\n`);',
    ].join('\n');
    const result = await airlock.execute({ language: 'node', code });
    expect({ exitCode: result.exit_code, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect({ length: result.stdout.length, end: result.stdout.slice(-16), truncated: result.stdout_truncated }).toEqual({
      length: 50_008,
      end: `${'x'.repeat(8)}\n0 2048\n`,
      truncated: false,
    });
  });

  it('a process killed by a signal reports 128 + the signal', async () => {
    const result = await airlock.execute({ language: 'bash', code: 'kill -TERM $$' });
    expect(result).toMatchObject({ status: 'failed', exit_code: 143 });
  });

  it('stdin is empty', async () => {
    const python = await airlock.execute({ code: 'import sys; print(repr(sys.stdin.read()))' });
    expect(python.stdout).toBe("''\n");
    const bash = await airlock.execute({ language: 'bash', code: 'cat; echo "rc=$?"' });
    expect(bash.stdout).toBe('rc=0\n');
  });

  it('/dev/stdout and /dev/stderr can be opened', async () => {
    const result = await airlock.execute({ language: 'bash', code: 'echo to-out > /dev/stdout; echo to-err > /dev/stderr' });
    expect(result).toMatchObject({ stdout: 'to-out\n', stderr: 'to-err\n', exit_code: 0 });
  });

  it('runs in the home directory as uid 1000 with a clean environment', async () => {
    const result = await airlock.execute({
      code: 'import os, json; print(os.getcwd(), os.getuid(), os.getgid()); print(json.dumps(sorted(os.environ)))',
    });
    const [identity, environment] = result.stdout.trim().split('\n');
    expect(identity).toBe('/home/sandbox 1000 1000');
    expect(JSON.parse(environment!)).toEqual(['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR']);
  });

  it('handles large code and unicode', async () => {
    const code = `s = "${'é'.repeat(200_000)}"\nprint(len(s), "✓")`;
    const result = await airlock.execute({ code });
    expect(result.stdout).toBe('200000 ✓\n');
  });

  // Short bash code is read by the stub's `read` builtin, longer code or code with NUL by `cat`: both must hand bash
  // the exact bytes sent, whatever locale the caller's variables choose. Each script prints its own checksum first.
  const checksum = 'sha256sum < "$0"\n';
  const paddedTo = (bytes: number, head: string): string => `${head}#${'x'.repeat(bytes - Buffer.byteLength(head) - 2)}\n`;
  const multibyte = `${checksum}# ${'é✓'.repeat(2000)}\n`;
  it.each([
    ['short, with backslashes, CR and trailing blank lines', `${checksum}printf '%s\\n' "é✓ \\\\n\\t"\r\n\n\n`],
    ['multibyte, at the builtin read limit', paddedTo(BASH_BUILTIN_READ_MAX_BYTES, multibyte)],
    ['multibyte, one byte above the builtin read limit', paddedTo(BASH_BUILTIN_READ_MAX_BYTES + 1, multibyte)],
    ['with a NUL after the first line', `${checksum}echo a\0b\n`],
  ])('bash runs its code byte for byte: %s', async (_name, code) => {
    const result = await airlock.execute({ language: 'bash', code, env_vars: { LC_ALL: 'C.UTF-8' } });
    expect(result.exit_code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(`${createHash('sha256').update(code).digest('hex')}  -`);
  });

  it('bash refuses code with a NUL in its first line, as it refuses such a script file', async () => {
    const result = await airlock.execute({ language: 'bash', code: 'echo a\0b\n' });
    expect(result).toMatchObject({ exit_code: 126, stdout: '' });
    expect(result.stderr).toContain('cannot execute binary file');
  });

  it('records the execution and serves it by trace id', async () => {
    const result = await airlock.execute({ code: 'print("kept")', metadata: { purpose: 'test' } });
    const record = await airlock.request(`/v1/executions/${result.trace_id}`);
    expect(record.status).toBe(200);
    expect(record.body).toMatchObject({
      trace_id: result.trace_id,
      status: 'success',
      exit_code: 0,
      stdout: 'kept\n',
      stderr: '',
      error: null,
      delivery_mode: 'inline',
      metadata: { purpose: 'test' },
    });
    expect(Date.parse(record.body.completed_at as string)).toBeGreaterThanOrEqual(Date.parse(record.body.created_at as string));
  });
});
