import { createTool } from '@mastra/core/tools';
import * as z from 'zod';
import { codeSandboxTool, type CodeSandboxToolOptions } from './code-sandbox.js';

export { CODE_SANDBOX_TOOL_NAME, type CodeSandboxToolOptions } from './code-sandbox.js';

/**
 * The `code_sandbox` tool for Mastra agents and workflows (`@mastra/core` 1.x, which runs on Node 22.13 or newer).
 *
 * ```ts
 * import { Agent } from '@mastra/core/agent';
 * import { codeSandbox } from '@airlock/sdk/mastra';
 * const agent = new Agent({ id: 'analyst', name: 'Analyst', instructions: 'Use code_sandbox to compute.', model, tools: { codeSandbox } });
 * const result = await agent.generate('What is 2 ** 100?');
 * ```
 */
export function createCodeSandboxTool(options: CodeSandboxToolOptions = {}) {
  const { name, description, inputSchema, run } = codeSandboxTool(options);
  return createTool({
    id: name,
    description,
    inputSchema,
    outputSchema: z.string(),
    execute: (input, context) => run(input, { signal: context?.abortSignal }),
  });
}

/** The tool with AIRLOCK_API_KEY and AIRLOCK_URL, read at its first call. */
export const codeSandbox = createCodeSandboxTool();
