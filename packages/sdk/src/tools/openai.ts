import { tool } from '@openai/agents';
import { codeSandboxTool, type CodeSandboxToolOptions } from './code-sandbox.js';

export { CODE_SANDBOX_TOOL_NAME, type CodeSandboxToolOptions } from './code-sandbox.js';

/**
 * The `code_sandbox` function tool for the OpenAI Agents SDK (`@openai/agents`), with a strict schema.
 *
 * ```ts
 * import { Agent, run } from '@openai/agents';
 * import { codeSandbox } from '@airlock/sdk/openai';
 * const agent = new Agent({ name: 'Analyst', instructions: 'Use code_sandbox to compute.', tools: [codeSandbox] });
 * const result = await run(agent, 'What is the 20th Fibonacci number?');
 * ```
 */
export function createCodeSandboxTool(options: CodeSandboxToolOptions = {}) {
  const { name, description, inputSchema, run } = codeSandboxTool(options);
  return tool({
    name,
    description,
    parameters: inputSchema,
    execute: (input, _context, details) => run(input, { signal: details?.signal }),
  });
}

/** The tool with AIRLOCK_API_KEY and AIRLOCK_URL, read at its first call. */
export const codeSandbox = createCodeSandboxTool();
