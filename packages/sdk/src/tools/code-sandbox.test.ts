import { readFileSync } from 'node:fs';
import { SANDBOX_DESCRIPTION, sandboxDescription } from '@airlock/contracts';
import { describe, expect, it } from 'vitest';
import { Airlock } from '../client.js';
import { AirlockConfigurationError, AirlockConnectionError } from '../errors.js';
import { SANDBOX_FACTS, codeSandboxTool, sandboxFacts } from './code-sandbox.js';

/** A client whose server answers every request with `status` and `body`, recording the request bodies. */
function answering(status: number, body: unknown) {
  const sent: unknown[] = [];
  const client = new Airlock({
    apiKey: 'sk-test',
    maxRetries: 0,
    fetch: async (_url, init) => {
      sent.push(JSON.parse(String(init?.body)));
      return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    },
  });
  return { client, sent };
}

const result = {
  success: false,
  stdout: '',
  stderr: 'x'.repeat(10) + '\n',
  exit_code: 137,
  error: 'timeout',
  error_message: 'the code ran past its timeout of 2 seconds',
  trace_id: 'trace-1',
  status: 'timeout',
  stdout_truncated: false,
  stderr_truncated: true,
  duration_ms: 2000,
  overhead_ms: 5,
};

describe('the code_sandbox tool', () => {
  it('fills what the model leaves null from the options and reads a failed run as an answer', async () => {
    const { client, sent } = answering(200, result);
    const { run } = codeSandboxTool({ client, threadId: 'conversation', language: 'bash', timeout: 2 });
    const text = await run({ code: 'sleep 5', language: null, timeout: null, thread_id: null });
    expect(sent).toEqual([{ code: 'sleep 5', language: 'bash', timeout: 2, thread_id: 'conversation' }]);
    expect(text).toBe(
      'exit_code: 137 (timeout)\nerror: the code ran past its timeout of 2 seconds\n--- stderr (truncated at 64 KB) ---\nxxxxxxxxxx',
    );
  });

  it("prefers the model's values to the options and says when nothing was printed", async () => {
    const { client, sent } = answering(200, { ...result, success: true, stderr: '', exit_code: 0, error: null, error_message: null, status: 'success', stderr_truncated: false });
    const text = await codeSandboxTool({ client, threadId: 'conversation' }).run({ code: 'true', language: 'bash', timeout: 9, thread_id: 'other' });
    expect(sent).toEqual([{ code: 'true', language: 'bash', timeout: 9, thread_id: 'other' }]);
    expect(text).toBe('exit_code: 0 (success)\n(no output)');
  });

  it('answers a busy thread and a refused input as text the model can act on, and throws what it cannot fix', async () => {
    const busy = answering(409, { error: 'thread_busy', message: 'thread t is busy' });
    expect(await codeSandboxTool({ client: busy.client }).run({ code: 'print(1)', thread_id: 't' })).toMatch(/still running on this thread_id/);
    const refused = answering(400, { error: 'validation_error', message: 'timeout: at most 3600 seconds' });
    expect(await codeSandboxTool({ client: refused.client }).run({ code: 'print(1)' })).toBe('The sandbox refused the call: timeout: at most 3600 seconds');
    const down = new Airlock({ apiKey: 'sk-test', fetch: async () => Promise.reject(new TypeError('fetch failed')) });
    await expect(codeSandboxTool({ client: down }).run({ code: 'print(1)' })).rejects.toBeInstanceOf(AirlockConnectionError);
  });

  it("describes the sandbox as the server does, and its default thread, to the model", () => {
    const { description, inputSchema } = codeSandboxTool({ threadId: 'conversation' });
    expect(SANDBOX_FACTS).toBe(SANDBOX_DESCRIPTION);
    expect(description).toContain(SANDBOX_DESCRIPTION);
    expect(description).toContain('"conversation"');
    // Only what the server serves: no storage mounts yet.
    expect(description).not.toContain('/data');
    expect(inputSchema.safeParse({ code: 'print(1)', thread_id: 'no spaces allowed' }).success).toBe(false);
    expect(inputSchema.safeParse({ code: '' }).success).toBe(false);
  });

  it('describes the network the key\'s sandbox has when told, in the server\'s words', () => {
    expect(sandboxFacts('unrestricted')).toBe(sandboxDescription('unrestricted'));
    expect(codeSandboxTool({ network: 'unrestricted' }).description).toContain(sandboxDescription('unrestricted'));
    const allow = ['api.example.com', '*.pypi.org', '198.51.100.0/24'];
    expect(sandboxFacts('allowlist', allow)).toBe(sandboxDescription('allowlist', allow));
    const listed = codeSandboxTool({ network: 'allowlist', networkAllow: allow }).description;
    expect(listed).toContain(sandboxDescription('allowlist', allow));
    expect(listed).toContain('It reaches only these names and networks: api.example.com, *.pypi.org, 198.51.100.0/24.');
  });

  it('refuses an allowlist without entries, and entries without an allowlist', () => {
    expect(() => codeSandboxTool({ network: 'allowlist' })).toThrow(AirlockConfigurationError);
    expect(() => codeSandboxTool({ network: 'allowlist', networkAllow: [] })).toThrow(/networkAllow: network 'allowlist' needs its entries/);
    expect(() => codeSandboxTool({ network: 'unrestricted', networkAllow: ['api.example.com'] })).toThrow(
      "networkAllow: only network 'allowlist' has entries, not 'unrestricted'",
    );
  });

  it("the Python SDK's tool describes the sandbox in the same words", () => {
    const python = readFileSync(new URL('../../../../python/src/airlock/integrations/_code_sandbox.py', import.meta.url), 'utf8');
    const start = python.indexOf('DESCRIPTION = """\\\n') + 'DESCRIPTION = """\\\n'.length;
    const description = python.slice(start, python.indexOf('"""', start));
    // A backslash ends the source lines of one paragraph; the text is compared with its whitespace as single spaces.
    const text = description.replaceAll('\\\n', '').replace(/\s+/g, ' ');
    expect(text).toContain(SANDBOX_DESCRIPTION);
    expect(text).not.toContain('/data');
    // Its sentence for a sandbox with network, which replaces the blocked one.
    const unrestricted = /^UNRESTRICTED_NETWORK = \(\n((?:\s+".*"\n)+)\)/m.exec(python)?.[1] ?? '';
    const sentence = [...unrestricted.matchAll(/"(.*)"/g)].map((match) => match[1]).join('');
    expect(sandboxDescription('unrestricted')).toContain(sentence);
    expect(sentence).toMatch(/^It has internet access/);
    // Its allowlist sentence, around the entries it is given.
    const allowlist = /^ALLOWLIST_NETWORK = \(\n((?:\s+f?".*"\n)+)\)/m.exec(python)?.[1] ?? '';
    const template = [...allowlist.matchAll(/f?"(.*)"/g)].map((match) => match[1]).join('');
    expect(template).toMatch(/^It reaches only these names and networks: \{entries\}\. /);
    const allow = ['api.example.com', '198.51.100.0/24'];
    expect(sandboxDescription('allowlist', allow)).toContain(template.replace('{entries}', allow.join(', ')));
  });

  it('makes its client at the first call, so a tool can be built without a key', () => {
    expect(() => codeSandboxTool()).not.toThrow();
  });
});
