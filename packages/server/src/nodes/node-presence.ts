import { readFileSync } from 'node:fs';
import type { ExecutionRepository, NodeKeyFingerprints, NodeRepository, ServerNode, ThreadRepository, WebhookRepository } from '@airlock/db';
import type { Logger } from '../shared/logger.js';
import { keyMismatch } from './node-keys.js';

/** Beats a node may miss before the others take it for gone. */
const MISSED_BEATS = 3;

/** The version of this server, as the nodes table lists it. */
export const SERVER_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface NodePresenceOptions {
  id: string;
  repository: NodeRepository;
  executions: ExecutionRepository;
  threads: ThreadRepository;
  webhooks: WebhookRepository;
  keys: NodeKeyFingerprints;
  heartbeatSeconds: number;
  logger: Logger;
}

/**
 * This server as one node among those sharing the database: it registers, beats, says when it drains, and leaves.
 * At each beat it removes the nodes that stopped beating and settles what they held: their running executions fail
 * (their webhooks queued), their thread holds and webhook claims are released, so any node can go on with them.
 */
export class NodePresence {
  readonly id: string;
  readonly #options: NodePresenceOptions;
  #nodes: ServerNode[] = [];
  #draining = false;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> = Promise.resolve();
  #left = false;
  #url: string | null = null;

  constructor(options: NodePresenceOptions) {
    this.id = options.id;
    this.#options = options;
  }

  /**
   * Registers this node, refusing to join nodes whose keys it does not share (their sealed secrets and signed URLs
   * would be unreadable here), then beats every heartbeatSeconds.
   */
  async join(): Promise<void> {
    const { repository, heartbeatSeconds } = this.#options;
    await repository.removeLapsed(heartbeatSeconds * MISSED_BEATS);
    for (const node of await repository.list()) {
      const mismatch = node.id === this.id ? null : keyMismatch(this.#options.keys, node.keys);
      if (mismatch) {
        throw new Error(`this node cannot join node ${node.id}, which shares its database: ${mismatch} (every node of a deployment needs the same keys)`);
      }
    }
    await this.#register();
    await this.#beat();
    this.#schedule(heartbeatSeconds * 1000);
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#beating = this.#beat().then(() => {
        if (!this.#left) this.#schedule(delayMs);
      });
    }, delayMs);
    this.#timer.unref();
  }

  /** The nodes taking work (this one included while it does), at least one: the others' share of a limit. */
  get activeNodes(): number {
    return Math.max(1, this.#nodes.filter((node) => !node.draining).length);
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Stops taking work: the other nodes see it at once, the load balancer through readiness. */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.#beating;
    await this.#beat();
  }

  /** Records where the other nodes reach this one, once it listens. */
  async reachableAt(url: string | null): Promise<void> {
    this.#url = url;
    await this.#options.repository.setUrl(this.id, url);
  }

  /** The nodes listed now, this one included. */
  list(): Promise<ServerNode[]> {
    return this.#options.repository.list();
  }

  /** The other listed nodes, as of the last beat. */
  otherNodeIds(): string[] {
    return this.#nodes.filter((node) => node.id !== this.id).map((node) => node.id);
  }

  /** Where another node is reached; null when it is not listed (gone) or cannot be reached. */
  async urlOf(nodeId: string): Promise<string | null> {
    const known = this.#nodes.find((node) => node.id === nodeId) ?? (await this.#options.repository.get(nodeId));
    return known?.url ?? null;
  }

  /** Leaves the nodes table: this node holds nothing any more. */
  async leave(): Promise<void> {
    this.#left = true;
    clearTimeout(this.#timer);
    await this.#beating;
    await this.#options.repository.remove(this.id);
  }

  async #register(): Promise<void> {
    const { repository, keys } = this.#options;
    await repository.register({ id: this.id, url: this.#url, version: SERVER_VERSION, keys });
  }

  async #beat(): Promise<void> {
    const { repository, executions, threads, webhooks, heartbeatSeconds, logger } = this.#options;
    try {
      if (!(await repository.beat(this.id, this.#draining))) {
        // Another node took this one for gone (it missed its beats) and settled what it held.
        logger.warn('this node was taken for gone by another node and registers again', { nodeId: this.id });
        await this.#register();
      }
      const gone = await repository.removeLapsed(heartbeatSeconds * MISSED_BEATS);
      if (gone.length > 0) logger.warn('nodes stopped beating and were removed', { nodes: gone });
      const failed = await executions.failRunning(
        "the server node running this execution stopped; changes it made to a thread's home were not saved",
        { absentNodes: true },
      );
      const released = await threads.releaseAbandoned({ absentNodes: true });
      await webhooks.releaseClaims({ absentNodes: true });
      if (failed > 0 || released > 0) logger.warn('settled what gone nodes held', { failedExecutions: failed, releasedThreads: released });
      this.#nodes = await repository.list();
    } catch (error) {
      logger.error('node heartbeat failed', { error: String(error) });
    }
  }
}
