import { MockLanguageModelV3 } from 'ai/test';

/**
 * An AI SDK model whose first turn calls `toolName` with `{ code: program }` and whose second answers "done"; the
 * prompts it received are pushed to `prompts`, so a test can read what the model saw of the tool's result.
 */
export function scriptedToolCallModel(toolName: string, program: string, prompts: unknown[]): MockLanguageModelV3 {
  const usage = {
    inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: 1, text: 1, reasoning: 0 },
  };
  return new MockLanguageModelV3({
    doGenerate: async (options) => {
      prompts.push(options.prompt);
      if (prompts.length === 1) {
        return {
          content: [{ type: 'tool-call', toolCallId: 'call-1', toolName, input: JSON.stringify({ code: program }) }],
          finishReason: { unified: 'tool-calls', raw: 'tool_use' },
          usage,
          warnings: [],
        };
      }
      return { content: [{ type: 'text', text: 'done' }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] };
    },
  });
}
