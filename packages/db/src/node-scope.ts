/**
 * Whose holdings a settling statement covers: one node's (a node starting again after it was killed), or those of
 * every node the nodes table no longer lists (nodes that stopped beating and were removed by another node).
 */
export type NodeScope = { nodeId: string } | { absentNodes: true };

/**
 * The SQL condition that `column` names a node of `scope`, its value as parameter `$index`. A null column (a holding
 * recorded before nodes registered) belongs to no listed node.
 */
export function nodeCondition(column: string, scope: NodeScope, index: number): { sql: string; values: unknown[] } {
  return 'nodeId' in scope
    ? { sql: `${column} = $${index}`, values: [scope.nodeId] }
    : { sql: `NOT EXISTS (SELECT 1 FROM nodes WHERE nodes.id = ${column})`, values: [] };
}
