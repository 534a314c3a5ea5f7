import { register } from 'node:module';

/**
 * Vitest starts its workers with `--conditions source` so that workspace packages load from their TypeScript. Node
 * then applies that condition to every package, and eventsource-parser, which the MCP SDK's client imports, exports
 * TypeScript under "source" too, which Node cannot load. This resolve hook drops the condition for imports made from
 * inside node_modules, so dependencies load their published JavaScript.
 */
const RESOLVE_HOOK = `
export async function resolve(specifier, context, next) {
  if (context.parentURL?.includes('/node_modules/')) {
    return next(specifier, { ...context, conditions: context.conditions.filter((condition) => condition !== 'source') });
  }
  return next(specifier, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`);

/** The MCP SDK's client classes, imported once the hook is in place. */
export const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
export const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
