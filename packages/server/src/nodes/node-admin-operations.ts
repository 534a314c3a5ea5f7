import { ServerNodeListResponse } from '@airlock/contracts';
import type { ServerNode } from '@airlock/db';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';

/** The server nodes sharing the database, for the instance's owners. */
export function nodeAdminOperations(nodes: { thisNode: string; list(): Promise<ServerNode[]> }, declare: DeclareAdminOperation): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/nodes',
      operationId: 'adminListNodes',
      audit: { action: 'node.list', target: 'node' },
      role: 'owner',
      summary: 'List the server nodes',
      description:
        'The nodes sharing this database, as they registered, oldest first: a node beats every AIRLOCK_HEARTBEAT_SECONDS ' +
        'and is removed by the others after three missed beats (its running executions then fail).',
      response: ServerNodeListResponse,
      codes: [],
      handle: async (context) =>
        context.json({
          nodes: (await nodes.list()).map((node) => ({
            id: node.id,
            url: node.url,
            version: node.version,
            started_at: node.startedAt.toISOString(),
            heartbeat_at: node.heartbeatAt.toISOString(),
            draining: node.draining,
            this_node: node.id === nodes.thisNode,
          })),
        }),
    }),
  ];
}
