import { availableParallelism } from 'node:os';
import { LIMITS } from '@airlock/contracts';
import type { SandboxRuntimeOptions } from '@airlock/runtime';
import type { Config } from './config.js';
import type { DataDirectoryLayout } from './data-directory.js';
import type { Logger } from './shared/logger.js';

/** The sandbox runtime of a server of this configuration. */
export function runtimeOptions(config: Config, layout: DataDirectoryLayout, logger: Logger): SandboxRuntimeOptions {
  return {
    stateDirectory: layout.run,
    imagesDirectory: config.imagesDirectory,
    sandboxUid: config.sandboxUid,
    sandboxGid: config.sandboxGid,
    bwrapPath: config.bwrapPath,
    outputLimitBytes: LIMITS.outputMaxBytes,
    imageMirror: config.imageMirror,
    pool: {
      maxSlots: config.poolMaxSlots,
      maxSlotsPerKey: config.poolMaxSlotsPerKey,
      maxConcurrentRefills: availableParallelism(),
      idleMs: config.poolIdleSeconds * 1000,
    },
    onPoolError: (error) => logger.error('warm pool refill failed', { error: String(error) }),
    forkPreload: config.forkPreload,
    onForkTemplateStarted: ({ image, milliseconds, unavailable }) => {
      logger.info('fork template started', { image, milliseconds });
      if (unavailable.length > 0) logger.warn('fork template: preloaded modules the image lacks', { image, unavailable: unavailable.join(' ') });
    },
    network: config.network && {
      subnet: config.network.subnet,
      megabitsPerCpu: config.network.megabitsPerCpu,
      dnsUpstream: config.network.dnsUpstream,
    },
  };
}
