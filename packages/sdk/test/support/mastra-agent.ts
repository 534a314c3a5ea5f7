/**
 * A Mastra agent with a scripted model that calls `code_sandbox` once, then answers "done". Run by Node 22, which
 * `@mastra/core` 1.x needs, with AIRLOCK_URL, AIRLOCK_API_KEY and the program to run in AIRLOCK_TEST_PROGRAM; prints
 * the agent's text and the prompts the model received as JSON.
 */
import { Agent } from '@mastra/core/agent';
import { codeSandbox, CODE_SANDBOX_TOOL_NAME } from '@airlock/sdk/mastra';
import { scriptedToolCallModel } from './scripted-model.ts';

const program = process.env.AIRLOCK_TEST_PROGRAM;
if (!program) throw new Error('AIRLOCK_TEST_PROGRAM is not set');

const prompts: unknown[] = [];
const model = scriptedToolCallModel(CODE_SANDBOX_TOOL_NAME, program, prompts);

const agent = new Agent({
  id: 'analyst',
  name: 'Analyst',
  instructions: 'Use code_sandbox to compute.',
  model,
  tools: { [CODE_SANDBOX_TOOL_NAME]: codeSandbox },
});
const result = await agent.generate('Hash the word airlock.', { maxSteps: 3 });
process.stdout.write(JSON.stringify({ text: result.text, prompts }));
