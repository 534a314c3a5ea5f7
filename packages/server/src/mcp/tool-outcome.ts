import { ErrorCode } from '@airlock/contracts';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { ApiError } from '../shared/api-error.js';
import type { Logger } from '../shared/logger.js';

/**
 * Runs a tool's work and makes the MCP result: the value, reduced to the fields of the tool's output schema, as
 * structured content plus its JSON as text; or an API error as a tool error (isError) naming its code, so the model
 * can read what went wrong and correct the call.
 */
export function toolOutcome(context: { logger: Logger; requestId: string }) {
  return async <Output extends z.ZodObject>(output: Output, work: () => Promise<z.input<Output>>): Promise<CallToolResult> => {
    try {
      const value: Record<string, unknown> = output.parse(await work());
      return { structuredContent: value, content: [{ type: 'text', text: JSON.stringify(value) }] };
    } catch (error) {
      return { isError: true, content: [{ type: 'text', text: errorText(error, context) }] };
    }
  };
}

function errorText(error: unknown, context: { logger: Logger; requestId: string }): string {
  if (error instanceof ApiError) {
    const retryAfter = error.headers['Retry-After'];
    return `${error.code}: ${error.message}${retryAfter === undefined ? '' : ` (retry after ${retryAfter} s)`}`;
  }
  context.logger.error('unhandled error in an MCP tool', {
    requestId: context.requestId,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return `${ErrorCode.internalError}: internal error; quote request id ${context.requestId} when reporting it`;
}
