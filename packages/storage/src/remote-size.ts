import { redactor, rcloneError, runRclone } from './connection-check.js';
import { rcloneRemotePath, type RcloneRemote } from './rclone-remote.js';

/**
 * The bytes stored below `prefix` of a remote (the sum of its objects' sizes), with one `rclone size --json` run
 * (the remote's variables and a fixed PATH only, no configuration file), killed after `timeoutMs`. A prefix without objects is 0. Rejects with
 * rclone's error, credentials redacted, when it fails or runs out of time.
 */
export async function remoteSize(options: { rclone: string; remote: RcloneRemote; prefix: string; timeoutMs: number }): Promise<number> {
  const { rclone, remote, prefix, timeoutMs } = options;
  const run = await runRclone(rclone, remote.environment, ['size', '--json', rcloneRemotePath(remote, prefix)], Date.now() + timeoutMs);
  if (run.timedOut) throw new Error(`rclone size got no answer within ${timeoutMs} ms`);
  // An object store has no empty directories: a prefix without objects is "not found".
  if (!run.ok && /directory not found/i.test(run.stderr)) return 0;
  if (!run.ok) throw new Error(`rclone size failed: ${rcloneError(redactor(remote)(run.stderr))}`);
  const { bytes } = JSON.parse(run.stdout.toString('utf8')) as { bytes?: unknown };
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) throw new Error('rclone size answered no byte count');
  return bytes;
}
