import { betaZodTool } from '@anthropic-ai/sdk/helpers/beta/zod';
import { codeSandboxTool, type CodeSandboxToolOptions } from './code-sandbox.js';

export { CODE_SANDBOX_TOOL_NAME, type CodeSandboxToolOptions } from './code-sandbox.js';

/**
 * The `code_sandbox` tool for the Anthropic TypeScript SDK's tool runner; in a loop of your own, answer a
 * `tool_use` block with `await codeSandbox.run(codeSandbox.parse(block.input))`.
 *
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { codeSandbox } from '@airlock/sdk/anthropic';
 * const message = await new Anthropic().beta.messages.toolRunner({ model, max_tokens: 4096, messages, tools: [codeSandbox] });
 * ```
 */
export function createCodeSandboxTool(options: CodeSandboxToolOptions = {}) {
  const { name, description, inputSchema, run } = codeSandboxTool(options);
  return betaZodTool({
    name,
    description,
    inputSchema,
    run: (input, context) => run(input, { signal: context?.signal ?? undefined }),
  });
}

/** The tool with AIRLOCK_API_KEY and AIRLOCK_URL, read at its first call. */
export const codeSandbox = createCodeSandboxTool();
