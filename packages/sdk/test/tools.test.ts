import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from '../../../test/support/airlock-fixture.js';
import { answerJson, startFakeProvider } from './support/fake-provider.js';
import { runtimeBinary } from './support/runtime-binaries.js';
import { scriptedToolCallModel } from './support/scripted-model.js';

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
    const { createCodeSandboxTool, CODE_SANDBOX_TOOL_NAME } = await import('@airlock/sdk/ai');
    const prompts: unknown[] = [];
    const model = scriptedToolCallModel(CODE_SANDBOX_TOOL_NAME, PROGRAM, prompts);
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

describe('@airlock/sdk/anthropic (Anthropic SDK tool runner)', () => {
  it('answers the tool_use of a fake Messages API with the sandbox output in the next request', async () => {
    const { default: Anthropic } = await import('@anthropic-ai/sdk');
    const { createCodeSandboxTool, CODE_SANDBOX_TOOL_NAME } = await import('@airlock/sdk/anthropic');
    const usage = { input_tokens: 1, output_tokens: 1 };
    const provider = await startFakeProvider(({ index }, response) => {
      const content =
        index === 0
          ? [{ type: 'tool_use', id: 'toolu_1', name: CODE_SANDBOX_TOOL_NAME, input: { code: PROGRAM, language: 'python' } }]
          : [{ type: 'text', text: 'done' }];
      answerJson(response, {
        id: `msg_${index}`,
        type: 'message',
        role: 'assistant',
        model: 'claude-test',
        content,
        stop_reason: index === 0 ? 'tool_use' : 'end_turn',
        stop_sequence: null,
        usage,
      });
    });
    try {
      const anthropic = new Anthropic({ apiKey: 'test-key', baseURL: provider.url, maxRetries: 0 });
      const message = await anthropic.beta.messages.toolRunner({
        model: 'claude-test',
        max_tokens: 1024,
        messages: [{ role: 'user', content: 'Hash the word airlock.' }],
        tools: [createCodeSandboxTool({ ...connection(), threadId: newThread() })],
      });
      expect(message.content).toEqual([{ type: 'text', text: 'done' }]);
      expect(provider.requests).toHaveLength(2);
      const first = provider.requests[0]?.body as { tools: Array<{ name: string; description: string; input_schema: { required: string[] } }> };
      expect(first.tools[0]?.name).toBe('code_sandbox');
      expect(first.tools[0]?.description).toContain('/home/sandbox');
      expect(first.tools[0]?.input_schema.required).toEqual(['code']);
      const second = provider.requests[1]?.body as { messages: Array<{ role: string; content: unknown }> };
      const toolResult = JSON.stringify(second.messages.at(-1));
      expect(second.messages.at(-1)?.role).toBe('user');
      expect(toolResult).toContain('tool_result');
      expect(toolResult).toContain('toolu_1');
      expect(toolResult).toContain(EXPECTED);
    } finally {
      await provider.close();
    }
  });
});

describe('@airlock/sdk/openai (OpenAI Agents SDK)', () => {
  it('runs the function call of a fake Chat Completions API and sends the sandbox output back', async () => {
    const { Agent, OpenAIProvider, Runner } = await import('@openai/agents');
    const { createCodeSandboxTool, CODE_SANDBOX_TOOL_NAME } = await import('@airlock/sdk/openai');
    const provider = await startFakeProvider(({ index }, response) => {
      const message =
        index === 0
          ? {
              role: 'assistant',
              content: null,
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: { name: CODE_SANDBOX_TOOL_NAME, arguments: JSON.stringify({ code: PROGRAM, language: null, timeout: null, thread_id: null }) },
                },
              ],
            }
          : { role: 'assistant', content: 'done' };
      answerJson(response, {
        id: `chatcmpl-${index}`,
        object: 'chat.completion',
        created: 0,
        model: 'gpt-test',
        choices: [{ index: 0, message, finish_reason: index === 0 ? 'tool_calls' : 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
    });
    try {
      const modelProvider = new OpenAIProvider({ apiKey: 'test-key', baseURL: provider.url, useResponses: false });
      const agent = new Agent({
        name: 'Analyst',
        instructions: 'Use code_sandbox.',
        model: 'gpt-test',
        tools: [createCodeSandboxTool({ ...connection(), threadId: newThread() })],
      });
      const result = await new Runner({ modelProvider, tracingDisabled: true }).run(agent, 'Hash the word airlock.');
      expect(result.finalOutput).toBe('done');
      expect(provider.requests).toHaveLength(2);
      const first = provider.requests[0]?.body as { tools: Array<{ function: { name: string; strict: boolean } }> };
      expect(first.tools[0]?.function).toMatchObject({ name: 'code_sandbox', strict: true });
      const second = provider.requests[1]?.body as { messages: Array<{ role: string; tool_call_id?: string; content: unknown }> };
      const toolMessage = second.messages.at(-1);
      expect(toolMessage).toMatchObject({ role: 'tool', tool_call_id: 'call_1' });
      expect(JSON.stringify(toolMessage?.content)).toContain(EXPECTED);
    } finally {
      await provider.close();
    }
  });
});

describe('@airlock/sdk/langchain (LangChain.js)', () => {
  it('answers the tool call of a fake chat model with a ToolMessage holding the sandbox output', async () => {
    const { AIMessageChunk, HumanMessage } = await import('@langchain/core/messages');
    const { FakeChatModel, FakeStreamingChatModel } = await import('@langchain/core/utils/testing');
    const { createCodeSandboxTool, CODE_SANDBOX_TOOL_NAME } = await import('@airlock/sdk/langchain');
    const sandbox = createCodeSandboxTool({ ...connection(), threadId: newThread() });
    const toolCall = { id: 'call_1', name: CODE_SANDBOX_TOOL_NAME, args: { code: PROGRAM }, type: 'tool_call' as const };
    const caller = new FakeStreamingChatModel({ chunks: [new AIMessageChunk({ content: '', tool_calls: [toolCall] })] });
    const question = new HumanMessage('Hash the word airlock.');
    const request = await caller.bindTools([sandbox]).invoke([question]);
    expect(request.tool_calls?.[0]?.name).toBe('code_sandbox');
    const toolMessage = await sandbox.invoke(request.tool_calls?.[0] as typeof toolCall);
    expect(toolMessage.tool_call_id).toBe('call_1');
    // FakeChatModel answers the messages it was given, so its answer shows what the model's second turn read.
    const answer = await new FakeChatModel({}).invoke([question, request, toolMessage]);
    expect(answer.content).toContain(EXPECTED);
    expect(answer.content).toContain('exit_code: 0 (success)');
  });
});

describe('@airlock/sdk/google (Google GenAI)', () => {
  it('runs the functionCall of a fake Gemini API by automatic function calling and sends back the sandbox output', async () => {
    const { GoogleGenAI } = await import('@google/genai');
    const { createCodeSandboxTool, CODE_SANDBOX_TOOL_NAME } = await import('@airlock/sdk/google');
    const provider = await startFakeProvider(({ index }, response) => {
      const parts = index === 0 ? [{ functionCall: { name: CODE_SANDBOX_TOOL_NAME, args: { code: PROGRAM } } }] : [{ text: 'done' }];
      answerJson(response, { candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }] });
    });
    try {
      const genai = new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: provider.url } });
      const response = await genai.models.generateContent({
        model: 'gemini-test',
        contents: 'Hash the word airlock.',
        config: { tools: [createCodeSandboxTool({ ...connection(), threadId: newThread() })] },
      });
      expect(response.text).toBe('done');
      expect(provider.requests).toHaveLength(2);
      expect(provider.requests[0]?.path).toContain('gemini-test:generateContent');
      const first = provider.requests[0]?.body as { tools: Array<{ functionDeclarations: Array<{ name: string; parametersJsonSchema: { required: string[] } }> }> };
      expect(first.tools[0]?.functionDeclarations[0]).toMatchObject({ name: 'code_sandbox', parametersJsonSchema: { required: ['code'] } });
      const second = provider.requests[1]?.body as { contents: Array<{ role: string; parts: Array<{ functionResponse?: { name: string; response: { output: string } } }> }> };
      const answer = second.contents.at(-1);
      expect(answer?.role).toBe('user');
      expect(answer?.parts[0]?.functionResponse?.name).toBe('code_sandbox');
      expect(answer?.parts[0]?.functionResponse?.response.output).toContain(EXPECTED);
    } finally {
      await provider.close();
    }
  });

  it('answers arguments that fail the schema with an error the model can read, without running anything', async () => {
    const { createCodeSandboxTool } = await import('@airlock/sdk/google');
    const [part] = await createCodeSandboxTool(connection()).callTool([{ id: 'c1', name: 'code_sandbox', args: { language: 'ruby' } }]);
    expect(part?.functionResponse?.id).toBe('c1');
    expect(JSON.stringify(part?.functionResponse?.response)).toMatch(/Invalid arguments.*code/);
  });
});

describe('@airlock/sdk/mastra (Mastra)', () => {
  const agentScript = fileURLToPath(new URL('./support/mastra-agent.ts', import.meta.url));

  it('runs the tool call of a Mastra agent with a scripted model in the sandbox and gives the model its output', async () => {
    const { stdout } = await promisify(execFile)(runtimeBinary('node22'), [agentScript], {
      cwd: dirname(agentScript),
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        AIRLOCK_URL: airlock.url,
        AIRLOCK_API_KEY: airlock.apiKey,
        AIRLOCK_TEST_PROGRAM: PROGRAM,
        MASTRA_TELEMETRY_DISABLED: '1',
      },
    });
    const { text, prompts } = JSON.parse(stdout) as { text: string; prompts: unknown[] };
    expect(text).toBe('done');
    expect(prompts).toHaveLength(2);
    const toolMessage = JSON.stringify((prompts[1] as unknown[]).at(-1));
    expect(toolMessage).toContain('"role":"tool"');
    expect(toolMessage).toContain('"toolCallId":"call-1"');
    expect(toolMessage).toContain(EXPECTED);
    expect(toolMessage).toContain('--- stderr ---\\nnote');
  });
});
