import { tool } from '@langchain/core/tools';
import { codeSandboxTool, type CodeSandboxToolOptions } from './code-sandbox.js';

export { CODE_SANDBOX_TOOL_NAME, type CodeSandboxToolOptions } from './code-sandbox.js';

/**
 * The `code_sandbox` tool for LangChain.js (`@langchain/core` tools), for `model.bindTools`, LangGraph and agents.
 *
 * ```ts
 * import { codeSandbox } from '@airlock/sdk/langchain';
 * const message = await chatModel.bindTools([codeSandbox]).invoke('What is 2 ** 100?');
 * for (const call of message.tool_calls ?? []) messages.push(await codeSandbox.invoke(call)); // a ToolMessage
 * ```
 */
export function createCodeSandboxTool(options: CodeSandboxToolOptions = {}) {
  const { name, description, inputSchema, run } = codeSandboxTool(options);
  return tool((input, config) => run(input, { signal: config?.signal }), {
    name,
    description,
    schema: inputSchema,
  });
}

/** The tool with AIRLOCK_API_KEY and AIRLOCK_URL, read at its first call. */
export const codeSandbox = createCodeSandboxTool();
