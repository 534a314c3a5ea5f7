import { redactor, rcloneError, runRclone } from './connection-check.js';
import { rcloneRemotePath, type RcloneRemote } from './rclone-remote.js';

/**
 * Deletes every object below `prefix` of a remote with one `rclone purge` run (the remote's variables only, no
 * configuration file), killed after `timeoutMs`. A prefix without objects is done already. Rejects with rclone's
 * error, credentials redacted, when it fails or runs out of time.
 */
export async function remotePurge(options: { rclone: string; remote: RcloneRemote; prefix: string; timeoutMs: number }): Promise<void> {
  const { rclone, remote, prefix, timeoutMs } = options;
  const run = await runRclone(rclone, remote.environment, ['purge', rcloneRemotePath(remote, prefix)], Date.now() + timeoutMs);
  if (run.timedOut) throw new Error(`rclone purge got no answer within ${timeoutMs} ms`);
  if (!run.ok && /directory not found/i.test(run.stderr)) return;
  if (!run.ok) throw new Error(`rclone purge failed: ${rcloneError(redactor(remote)(run.stderr))}`);
}
