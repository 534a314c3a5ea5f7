import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rcloneRemotePath, type RcloneRemote } from './rclone-remote.js';

/** What testing a connection found. */
export interface ConnectionTestResult {
  /** The bucket answered a listing of the connection's prefix. */
  reachable: boolean;
  /**
   * A probe object was written below the prefix, read back and deleted; null when the connection is read-only (then
   * nothing is written).
   */
  writable: boolean | null;
  /** What was done, or which step failed with rclone's error (credentials redacted) and what to check. */
  message: string;
}

export interface ConnectionTestOptions {
  /** The rclone program. */
  rclone: string;
  /** The connection as an rclone remote: its variables are all the process gets, besides PATH. */
  remote: RcloneRemote;
  /** The connection's prefix inside the bucket ("" for the whole bucket). */
  prefix: string;
  /** Only list: a read-only connection is never written to. */
  readOnly: boolean;
  /** How long the whole test may take. @default 15 s */
  timeoutMs?: number;
}

/**
 * One attempt per request, connections given up after 5 s and stalled transfers after 10 s: a bucket that does not
 * answer fails the test in seconds (with rclone's default retries a listing of a stopped endpoint retries for minutes).
 */
const RCLONE_FLAGS = ['--config', '/dev/null', '--low-level-retries', '1', '--retries', '1', '--contimeout', '5s', '--timeout', '10s'];
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PROBE_PREFIX = '.airlock-connection-test-';
/** Messages carry at most this much of rclone's error, and this much of its output is kept. */
const ERROR_MAX_CHARACTERS = 1_000;
const STDERR_MAX_CHARACTERS = 65_536;

/**
 * Whether a connection's bucket and prefix are reachable and, unless the connection is read-only, writable, with
 * one-shot rclone processes (`lsf --max-depth 1` of the prefix, then `rcat`, `cat` and `deletefile` of a probe object
 * `.airlock-connection-test-<random>` below it). Failures are results; rejects only when rclone cannot be started.
 */
export async function testConnection(options: ConnectionTestOptions): Promise<ConnectionTestResult> {
  const { remote, readOnly } = options;
  const prefix = options.prefix.replace(/^\/+|\/+$/g, '');
  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  const redact = redactor(remote);
  const run = (args: string[], input?: Buffer) => runRclone(options.rclone, remote.environment, args, deadline, input);
  const where = `"${remote.bucket}${prefix === '' ? '' : `/${prefix}`}"`;
  const failure = (step: RcloneRun, doing: string) =>
    step.timedOut ? `${doing} got no answer within ${timeoutMs / 1000} s` : `${doing} failed: ${rcloneError(redact(step.stderr))}`;

  // The first entry listed is proof enough: a prefix holding very many entries is not listed to its end.
  const listed = await run(['lsf', '--max-depth', '1', rcloneRemotePath(remote, prefix)]);
  if (!listed.ok) {
    // On object stores a prefix holding nothing lists empty; only a missing bucket is "not found".
    const hint = /directory not found/.test(listed.stderr)
      ? 'check that the bucket exists and its name is right'
      : 'check the endpoint, the bucket name and the credentials, and that this server reaches the endpoint';
    return { reachable: false, writable: readOnly ? null : false, message: `Not reachable: ${failure(listed, `listing ${where}`)}; ${hint}.` };
  }
  if (readOnly) return { reachable: true, writable: null, message: `Reachable: listed ${where}. Nothing was written: the connection is read-only.` };

  const probe = `${PROBE_PREFIX}${randomBytes(6).toString('hex')}`;
  const probePath = rcloneRemotePath(remote, prefix === '' ? probe : `${prefix}/${probe}`);
  const content = Buffer.from(`Airlock connection test ${probe}; safe to delete.\n`);
  const notWritable = (reason: string): ConnectionTestResult => ({ reachable: true, writable: false, message: `Reachable but not writable: ${reason}.` });

  const written = await run(['rcat', probePath], content);
  if (!written.ok) {
    // A write cut off by the deadline may still have landed.
    await run(['deletefile', probePath]);
    return notWritable(`${failure(written, `writing ${probe} below ${where}`)}; check that the credentials may write there, or make the connection read-only`);
  }
  const read = await run(['cat', probePath]);
  const deleted = await run(['deletefile', probePath]);
  const leftBehind = deleted.ok ? '' : `; ${probe} is left below ${where} (${failure(deleted, 'deleting it')}), delete it by hand`;
  if (!read.ok) return notWritable(`${failure(read, `reading back ${probe}, written below ${where},`)}${leftBehind}`);
  if (!read.stdout.equals(content)) {
    return notWritable(`${probe}, written below ${where}, read back as ${read.stdout.length} bytes unlike the ${content.length} written${leftBehind}`);
  }
  if (!deleted.ok) {
    return notWritable(
      `${probe} was written below ${where} and read back, but ${failure(deleted, 'deleting it')}; delete it by hand. ` +
        'Sandboxes delete files and rename them (a copy and a delete on a bucket), so the credentials need delete too',
    );
  }
  return { reachable: true, writable: true, message: `Reachable and writable: listed ${where}, and wrote, read back and deleted ${probe} there.` };
}

interface RcloneRun {
  ok: boolean;
  timedOut: boolean;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs rclone with the remote's variables and a fixed PATH (nothing else of this process's environment; no
 * configuration file), killed at the deadline. A listing counts as done at its first output.
 */
export function runRclone(rclone: string, environment: Record<string, string>, args: string[], deadline: number, input?: Buffer): Promise<RcloneRun> {
  const listing = args[0] === 'lsf';
  if (Date.now() >= deadline) return Promise.resolve({ ok: false, timedOut: true, stdout: Buffer.alloc(0), stderr: '' });
  return new Promise((resolve, reject) => {
    const child = spawn(rclone, [...args, ...RCLONE_FLAGS], { env: { PATH, ...environment }, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    let timedOut = false;
    let listed = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, deadline - Date.now());
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      if (listing && !listed) {
        listed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr = lastLines(stderr + chunk)));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run rclone at ${rclone}: ${error.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: listed || (code === 0 && !timedOut), timedOut: timedOut && !listed, stdout: Buffer.concat(stdout), stderr });
    });
    // rclone may exit before reading everything (a refused connection): its closed pipe is not our error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * The end of rclone's error output, whole lines only: a line cut in two could hold part of a secret that redaction
 * no longer recognizes.
 */
function lastLines(text: string): string {
  if (text.length <= STDERR_MAX_CHARACTERS) return text;
  const cut = text.indexOf('\n', text.length - STDERR_MAX_CHARACTERS);
  return cut < 0 ? '' : text.slice(cut + 1);
}

/** A rclone log line starts with its date and time (`2026/12/05 00:27:10 NOTICE: ...`). */
const LOG_LINE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d(?:\.\d+)? (?:[A-Z]+\s*: )?/;

/**
 * The last thing rclone logged, as one line: its last record with the lines that continue it (the Azure SDK's errors
 * span several, between rules of dashes), without the timestamp, the level, rclone's "Failed to <command> with N
 * errors: last error was:" wrapper and a closing full stop.
 */
export function rcloneError(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  let start = lines.length - 1;
  while (start > 0 && !LOG_LINE.test(lines[start]!)) start--;
  const record = lines
    .slice(start)
    .map((line) => line.replace(LOG_LINE, ''))
    .filter((line) => line !== '' && !/^-+$/.test(line) && line !== 'Response contained no body')
    .join(' ')
    .replace(/^Failed to \w+(?: with \d+ errors?: last error was)?: (?:error in ListJSON: )?/, '')
    .replace(/\s+/g, ' ')
    .replace(/[.\s]+$/, '');
  if (record === '') return 'rclone said nothing about why';
  return record.length > ERROR_MAX_CHARACTERS ? `${record.slice(0, ERROR_MAX_CHARACTERS)}...` : record;
}

/** The remote's options whose values are credentials (of rclone's s3, gcs and azureblob backends). */
const SECRET_OPTIONS = ['ACCESS_KEY_ID', 'SECRET_ACCESS_KEY', 'SESSION_TOKEN', 'SERVICE_ACCOUNT_CREDENTIALS', 'KEY', 'SAS_URL', 'CONNECTION_STRING'];
const REDACTED = '****';

/**
 * Replaces the remote's credentials in a text with `****`: each secret value whole, and the parts of one that an
 * error could quote alone (a SAS URL's query and signature, a connection string's key or signature, a service
 * account's private key and its lines); and any `sig=` query parameter.
 */
export function redactor(remote: RcloneRemote): (text: string) => string {
  const variablePrefix = `RCLONE_CONFIG_${remote.name.toUpperCase()}_`;
  const fragments = new Set<string>();
  for (const [variable, value] of Object.entries(remote.environment)) {
    if (!SECRET_OPTIONS.some((option) => variable === variablePrefix + option)) continue;
    for (const fragment of secretFragments(value)) if (fragment.length >= 4) fragments.add(fragment);
  }
  const ordered = [...fragments].sort((a, b) => b.length - a.length);
  return (text) => {
    let redacted = text;
    for (const fragment of ordered) redacted = redacted.split(fragment).join(REDACTED);
    return redacted.replace(/\b(sig=)[^&\s"';]+/gi, `$1${REDACTED}`);
  };
}

function secretFragments(value: string): string[] {
  const fragments = [value, value.replace(/\n/g, '\\n')];
  const query = value.indexOf('?');
  if (/^https?:\/\//i.test(value) && query >= 0) {
    fragments.push(value.slice(query + 1));
    for (const part of new URLSearchParams(value.slice(query + 1)).values()) fragments.push(part, encodeURIComponent(part));
  }
  for (const part of value.split(';')) {
    const match = /^(AccountKey|SharedAccessSignature)=(.+)$/i.exec(part.trim());
    if (match) fragments.push(match[2]!);
  }
  if (value.trimStart().startsWith('{')) {
    try {
      const parsed = JSON.parse(value) as Record<string, unknown>;
      for (const field of ['private_key', 'private_key_id']) {
        const secret = parsed[field];
        if (typeof secret === 'string') fragments.push(secret, ...secret.split('\n').map((line) => line.trim()));
      }
    } catch {
      // Not JSON: the whole value is redacted.
    }
  }
  return fragments;
}
