import type { CallableTool, FunctionCall, FunctionDeclaration, Part, Tool } from '@google/genai';
import * as z from 'zod';
import { codeSandboxTool, type CodeSandboxToolOptions } from './code-sandbox.js';

export { CODE_SANDBOX_TOOL_NAME, type CodeSandboxToolOptions } from './code-sandbox.js';

/** A CallableTool for automatic function calling, plus its declaration and handler for a loop of your own. */
export interface GoogleCodeSandboxTool extends CallableTool {
  /** For `config.tools: [{ functionDeclarations: [declaration] }]`. */
  readonly declaration: FunctionDeclaration;
  /** Answers the `code_sandbox` calls among `functionCalls` with one `functionResponse` part each. */
  callTool(functionCalls: FunctionCall[]): Promise<Part[]>;
}

/**
 * The `code_sandbox` tool for Google GenAI (`@google/genai`). Passed in `config.tools`, `generateContent` runs it by
 * automatic function calling; with `declaration` instead, answer `response.functionCalls` with `callTool`.
 *
 * ```ts
 * import { GoogleGenAI } from '@google/genai';
 * import { codeSandbox } from '@airlock/sdk/google';
 * const response = await new GoogleGenAI({}).models.generateContent({ model, contents, config: { tools: [codeSandbox] } });
 * ```
 */
export function createCodeSandboxTool(options: CodeSandboxToolOptions = {}): GoogleCodeSandboxTool {
  const { name, description, inputSchema, run } = codeSandboxTool(options);
  const { $schema: _dialect, ...parametersJsonSchema } = z.toJSONSchema(inputSchema);
  const declaration: FunctionDeclaration = { name, description, parametersJsonSchema };
  const answer = async (call: FunctionCall): Promise<Part> => {
    const input = inputSchema.safeParse(call.args ?? {});
    const response = input.success ? { output: await run(input.data) } : { error: `Invalid arguments: ${z.prettifyError(input.error)}` };
    return { functionResponse: { id: call.id, name, response } };
  };
  return {
    declaration,
    tool: async (): Promise<Tool> => ({ functionDeclarations: [declaration] }),
    callTool: (functionCalls) => Promise.all(functionCalls.filter((call) => call.name === name).map(answer)),
  };
}

/** The tool with AIRLOCK_API_KEY and AIRLOCK_URL, read at its first call. */
export const codeSandbox = createCodeSandboxTool();
