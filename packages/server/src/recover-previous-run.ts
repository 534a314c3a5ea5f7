import type { ExecutionRepository, ThreadRepository, WebhookRepository } from '@airlock/db';
import type { Logger } from './shared/logger.js';

/**
 * Settles what this node's previous process left when it was killed: its running executions fail (with their
 * webhooks queued), the webhook deliveries it was attempting are retried at once instead of after their claim
 * lapses, and threads it held keep their last complete layers with only the lock released.
 */
export async function recoverPreviousRun(options: {
  nodeId: string;
  executions: ExecutionRepository;
  webhooks: WebhookRepository;
  threads: ThreadRepository;
  logger: Logger;
}): Promise<void> {
  const { nodeId, logger } = options;
  const failed = await options.executions.failRunning("the server stopped while this execution was running; changes it made to a thread's home were not saved", { nodeId });
  if (failed > 0) logger.warn('marked executions of a previous run as failed', { count: failed });
  await options.webhooks.releaseClaims({ nodeId });
  const abandoned = await options.threads.releaseAbandoned({ nodeId });
  if (abandoned > 0) logger.warn('released threads held by a previous run', { count: abandoned });
}
