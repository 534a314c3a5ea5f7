import { ExecutionCancelResponse } from '@airlock/contracts';
import { NDJSON_HEADERS } from '../executions/execute-stream.js';
import type { Logger } from '../shared/logger.js';
import { NODE_SIGNATURE_HEADER, type NodeSignature } from './node-keys.js';

/** How long a node waits for another to answer a cancel (which waits up to 5 s for the execution to end). */
const CANCEL_TIMEOUT_MS = 10_000;
/** How long a change waits for another node to forget its cached lookups. */
const CHANGE_TIMEOUT_MS = 2_000;
/** How long a node waits for another to start answering a relayed stream. */
const RELAY_CONNECT_TIMEOUT_MS = 5_000;

/** The paths of the calls between nodes, on the node running the execution. */
export const NODE_CALL_PATHS = {
  forgetCaches: '/internal/v1/caches/forget',
  cancel: (traceId: string) => `/internal/v1/executions/${encodeURIComponent(traceId)}/cancel`,
  output: (traceId: string) => `/internal/v1/executions/${encodeURIComponent(traceId)}/output`,
};

export interface OtherNodesOptions {
  /** Where a node is reached; null when it is gone or unreachable. */
  urlOf: (nodeId: string) => Promise<string | null>;
  signature: NodeSignature;
  logger: Logger;
}

/**
 * What only the node running an execution can do, asked of it by another node: cancel the execution, follow its live
 * output. Calls are signed with the deployment's node key. Null when that node cannot be reached or does not run the
 * execution any more (it ended, or the node is gone and another settles its executions).
 */
export class OtherNodes {
  readonly #options: OtherNodesOptions;

  constructor(options: OtherNodesOptions) {
    this.#options = options;
  }

  /**
   * Tells every other node that an administrator changed something, so that it forgets its cached lookups (keys,
   * attachments, connectors) before the change is answered; a node that does not answer keeps them at most
   * AIRLOCK_AUTH_CACHE_SECONDS.
   */
  async announceChange(nodeIds: readonly string[]): Promise<void> {
    await Promise.all(
      nodeIds.map(async (nodeId) => {
        const response = await this.#call(nodeId, 'POST', NODE_CALL_PATHS.forgetCaches, CHANGE_TIMEOUT_MS);
        await response?.body?.cancel();
      }),
    );
  }

  async cancel(nodeId: string, orgId: string, traceId: string): Promise<ExecutionCancelResponse | null> {
    const response = await this.#call(nodeId, 'POST', `${NODE_CALL_PATHS.cancel(traceId)}?${new URLSearchParams({ organization_id: orgId })}`, CANCEL_TIMEOUT_MS);
    if (!response) return null;
    return ExecutionCancelResponse.parse(await response.json());
  }

  /** The execution's NDJSON events after `afterSeq`, relayed live from the node running it. */
  async output(nodeId: string, orgId: string, traceId: string, afterSeq: number): Promise<Response | null> {
    const query = new URLSearchParams({ organization_id: orgId, after_seq: String(afterSeq) });
    const response = await this.#call(nodeId, 'GET', `${NODE_CALL_PATHS.output(traceId)}?${query}`, RELAY_CONNECT_TIMEOUT_MS);
    return response && new Response(response.body, { headers: NDJSON_HEADERS });
  }

  async #call(nodeId: string, method: string, pathAndQuery: string, timeoutMs: number): Promise<Response | null> {
    const url = await this.#options.urlOf(nodeId);
    if (url === null) return null;
    const connecting = new AbortController();
    const timer = setTimeout(() => connecting.abort(), timeoutMs);
    try {
      const response = await fetch(`${url}${pathAndQuery}`, {
        method,
        headers: { [NODE_SIGNATURE_HEADER]: this.#options.signature.sign(method, pathAndQuery) },
        signal: connecting.signal,
      });
      if (response.ok) return response;
      await response.body?.cancel();
      if (response.status !== 404) this.#options.logger.warn('another node refused a node call', { nodeId, path: pathAndQuery, status: response.status });
      return null;
    } catch (error) {
      this.#options.logger.warn('another node did not answer a node call', { nodeId, path: pathAndQuery, error: String(error) });
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
