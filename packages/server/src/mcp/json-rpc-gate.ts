/** JSON-RPC 2.0 error codes. */
export const JsonRpcErrorCode = { parseError: -32700, invalidRequest: -32600, invalidParams: -32602, serverError: -32000 } as const;

/** The MCP revision that removed JSON-RPC batches; later revisions sort after it as strings. */
const BATCHES_REMOVED_IN = '2025-06-18';

/** The MCP revisions this server speaks (the SDK's list also names 2024-10-07, which is no revision). */
export const MCP_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

export type GateDecision = { answer: Response } | { parsedBody: unknown };

/**
 * Checks a POST /mcp request before the SDK's transport reads it, and answers what the SDK would answer imprecisely:
 * an unsupported `MCP-Protocol-Version` is listed against the revisions this server speaks;
 * a message without `"jsonrpc": "2.0"` is an invalid request (-32600, not a parse error); batches are refused
 * under the revisions that removed them; a `tools/call` of an unknown tool or with invalid arguments is a JSON-RPC
 * error -32602 with a sentence, as are malformed tools/call params (the SDK answers the first with a tool result
 * with `isError`, the second with -32603 and a raw schema dump).
 */
export function screenMcpRequest(options: {
  body: string;
  /** The `MCP-Protocol-Version` header, when sent. */
  protocolVersion: string | undefined;
  toolNames: string[];
}): GateDecision {
  if (options.protocolVersion !== undefined && !MCP_PROTOCOL_VERSIONS.includes(options.protocolVersion)) {
    return {
      answer: httpError(
        400,
        JsonRpcErrorCode.serverError,
        `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(options.protocolVersion)}; this server speaks ${MCP_PROTOCOL_VERSIONS.join(', ')}`,
      ),
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(options.body);
  } catch {
    return { answer: httpError(400, JsonRpcErrorCode.parseError, 'Parse error: the body is not JSON') };
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  if (Array.isArray(parsed) && options.protocolVersion !== undefined && options.protocolVersion >= BATCHES_REMOVED_IN) {
    return {
      answer: httpError(
        400,
        JsonRpcErrorCode.invalidRequest,
        `Invalid Request: MCP ${options.protocolVersion} has no JSON-RPC batches (removed in ${BATCHES_REMOVED_IN}); send one message per request`,
      ),
    };
  }
  for (const message of messages) {
    if (!isObject(message) || message.jsonrpc !== '2.0') {
      return { answer: httpError(400, JsonRpcErrorCode.invalidRequest, 'Invalid Request: every message is a JSON object with "jsonrpc": "2.0"') };
    }
  }
  if (!Array.isArray(parsed) && isObject(parsed) && parsed.method === 'tools/call' && 'id' in parsed) {
    const problem = toolCallProblem(parsed.params, options.toolNames);
    if (problem) return { answer: Response.json({ jsonrpc: '2.0', id: parsed.id, error: { code: JsonRpcErrorCode.invalidParams, message: problem } }) };
  }
  return { parsedBody: parsed };
}

/**
 * Why a tools/call's params are malformed or name no tool of ours; undefined when they are fine. Arguments that the
 * tool's schema refuses are not judged here: MCP 2025-11-25 answers those as tool results with `isError`, which the
 * model can read and correct.
 */
function toolCallProblem(params: unknown, toolNames: string[]): string | undefined {
  const names = toolNames.join(', ');
  if (!isObject(params) || typeof params.name !== 'string') return `Invalid params: tools/call needs params.name, one of ${names}`;
  if (!toolNames.includes(params.name)) return `Unknown tool ${JSON.stringify(params.name)}: this server's tools are ${names}`;
  if (params.arguments !== undefined && !isObject(params.arguments)) {
    return `Invalid params: the arguments of ${params.name} are a JSON object of its input schema's fields`;
  }
  return undefined;
}

/** A JSON-RPC error answering no particular message, with an HTTP status. */
export function httpError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', id: null, error: { code, message } }, { status });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
