import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from '../../../test/support/airlock-fixture.js';

/**
 * Each framework's `codeSandbox` tool with the real framework package and a scripted model: the model asks for the
 * tool, the framework runs it through the SDK on a real Airlock server, and the model's next turn reads the sandbox's
 * output. The frameworks resolve from packages/sdk, where they are dev dependencies.
 */

let airlock: AirlockFixture;
let counter = 0;
const newThread = () => `tools-${process.pid}-${Date.now()}-${counter++}`;
const connection = () => ({ apiKey: airlock.apiKey, baseUrl: airlock.url });

beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

/** Code whose output no model could guess: the sandbox's own computation. */
const PROGRAM = 'import hashlib, sys; print(hashlib.sha256(b"airlock").hexdigest()[:16]); print("note", file=sys.stderr)';
const EXPECTED = 'e17ff958e1a3487c';

describe('@airlock/sdk/ai (Vercel AI SDK)', () => {
  it('runs a tool call of a scripted model in the sandbox and gives the model its output', async () => {
    const { generateText, stepCountIs } = await import('ai');
    const { MockLanguageModelV3 } = await import('ai/test');
    const { createCodeSandboxTool, CODE_SANDBOX_TOOL_NAME } = await import('@airlock/sdk/ai');
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
            content: [{ type: 'tool-call', toolCallId: 'call-1', toolName: CODE_SANDBOX_TOOL_NAME, input: JSON.stringify({ code: PROGRAM }) }],
            finishReason: { unified: 'tool-calls', raw: 'tool_use' },
            usage,
            warnings: [],
          };
        }
        return { content: [{ type: 'text', text: 'done' }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] };
      },
    });
    const result = await generateText({
      model,
      tools: { [CODE_SANDBOX_TOOL_NAME]: createCodeSandboxTool({ ...connection(), threadId: newThread() }) },
      stopWhen: stepCountIs(3),
      prompt: 'Hash the word airlock.',
    });
    expect(result.text).toBe('done');
    expect(prompts).toHaveLength(2);
    const toolMessage = JSON.stringify(prompts[1]);
    expect(toolMessage).toContain(EXPECTED);
    expect(toolMessage).toContain('exit_code: 0 (success)');
    expect(toolMessage).toContain('--- stderr ---\\nnote');
  });
});
