import { tool } from 'ai';
import { codeSandboxTool, type CodeSandboxToolOptions } from './code-sandbox.js';

export { CODE_SANDBOX_TOOL_NAME, type CodeSandboxToolOptions } from './code-sandbox.js';

/**
 * The `code_sandbox` tool for the Vercel AI SDK (`ai` 6).
 *
 * ```ts
 * import { generateText, stepCountIs } from 'ai';
 * import { codeSandbox } from '@airlock/sdk/ai';
 * await generateText({ model, tools: { code_sandbox: codeSandbox }, stopWhen: stepCountIs(5), prompt });
 * ```
 */
export function createCodeSandboxTool(options: CodeSandboxToolOptions = {}) {
  const { description, inputSchema, run } = codeSandboxTool(options);
  return tool({
    description,
    inputSchema,
    execute: (input, { abortSignal }) => run(input, { signal: abortSignal }),
  });
}

/** The tool with AIRLOCK_API_KEY and AIRLOCK_URL, read at its first call. */
export const codeSandbox = createCodeSandboxTool();
