import type { Config } from '@airlock/server';
import { diagnoseHost, type HostCheck } from '@airlock/runtime';

/** The host checks of `airlock doctor`, for a server of this configuration. */
export function checkHost(config: Config): Promise<HostCheck[]> {
  return diagnoseHost({
    dataDirectory: config.dataDirectory,
    imagesDirectory: config.imagesDirectory,
    bwrapPath: config.bwrapPath,
    rclonePath: config.rclonePath,
    sandboxUid: config.sandboxUid,
    sandboxGid: config.sandboxGid,
  });
}
