/**
 * A Mastra agent with a scripted model that calls `code_sandbox` once, then answers "done". Run by Node 22, which
 * `@mastra/core` 1.x needs, with AIRLOCK_URL, AIRLOCK_API_KEY and the program to run in AIRLOCK_TEST_PROGRAM; prints
 * the agent's text and the prompts the model received as JSON.
 */
import { Agent } from '@mastra/core/agent';
import { MockLanguageModelV3 } from 'ai/test';
import { codeSandbox, CODE_SANDBOX_TOOL_NAME } from '@airlock/sdk/mastra';

const program = process.env.AIRLOCK_TEST_PROGRAM;
if (!program) throw new Error('AIRLOCK_TEST_PROGRAM is not set');

const prompts: unknown[] = [];
const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};
const model = new MockLanguageModelV3({
  doGenerate: async (options) => {
    prompts.push(options.prompt);
    if (prompts.length === 1) {
      return {
        content: [{ type: 'tool-call', toolCallId: 'call-1', toolName: CODE_SANDBOX_TOOL_NAME, input: JSON.stringify({ code: program }) }],
        finishReason: { unified: 'tool-calls', raw: 'tool_use' },
        usage,
        warnings: [],
      };
    }
    return { content: [{ type: 'text', text: 'done' }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] };
  },
});

const agent = new Agent({
  id: 'analyst',
  name: 'Analyst',
  instructions: 'Use code_sandbox to compute.',
  model,
  tools: { [CODE_SANDBOX_TOOL_NAME]: codeSandbox },
});
const result = await agent.generate('Hash the word airlock.', { maxSteps: 3 });
process.stdout.write(JSON.stringify({ text: result.text, prompts }));
