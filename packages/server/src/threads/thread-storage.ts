import type { ThreadRepository } from '@airlock/db';
import { LayerCache } from '@airlock/runtime';
import { LocalBlobStore, S3BlobStore } from '@airlock/storage';
import type { Config } from '../config.js';
import type { DataDirectoryLayout } from '../data-directory.js';
import type { Logger } from '../shared/logger.js';
import { ThreadService } from './thread-service.js';

/**
 * Threads' storage on a starting node: the node's layer cache, the blob store (S3 when configured, else the data
 * directory) cleared of incomplete uploads, and the thread service.
 */
export async function startThreadStorage(options: {
  config: Config;
  layout: DataDirectoryLayout;
  repository: ThreadRepository;
  nodeId: string;
  logger: Logger;
}): Promise<{ threads: ThreadService; close(): Promise<void> }> {
  const { config, layout, logger } = options;
  const layerCache = new LayerCache(layout.layers, { uid: config.sandboxUid, gid: config.sandboxGid });
  await layerCache.start();
  const blobs = config.s3 ? new S3BlobStore({ ...config.s3, spoolDirectory: layout.blobSpool }) : new LocalBlobStore(layout.blobs);
  try {
    await blobs.removeIncomplete();
  } catch (error) {
    blobs.close();
    throw error;
  }
  const threads = new ThreadService({
    threads: options.repository,
    blobs,
    layerCache,
    nodeId: options.nodeId,
    logger,
    garbageGraceMs: config.garbageGraceSeconds * 1000,
  });
  return {
    threads,
    close: async () => {
      await threads.idle();
      blobs.close();
    },
  };
}
