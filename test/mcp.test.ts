import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_DESCRIPTION } from '../packages/contracts/src/index.js';
import { MCP_TOOL_NAMES } from '../packages/server/src/mcp/mcp-server.js';
import { startAirlock, testApiKey, type AirlockFixture } from './support/airlock-fixture.js';

const run = promisify(execFile);
const INSPECTOR_PACKAGE = join(import.meta.dirname, '..', 'node_modules', '@modelcontextprotocol', 'inspector-cli');
/**
 * The Inspector's CLI launcher; its `--cli` mode prints the JSON-RPC result on stdout. It finds its own package.json
 * through a path relative to the working directory, so it runs from its build directory.
 */
async function inspector(args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [join(INSPECTOR_PACKAGE, 'build', 'cli.js'), '--cli', ...args], {
    cwd: join(INSPECTOR_PACKAGE, 'build'),
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

/** An MCP client connected to the server over Streamable HTTP, closed when `use` ends. */
async function withClient<T>(use: (client: Client, transport: StreamableHTTPClientTransport) => Promise<T>): Promise<T> {
  const transport = new StreamableHTTPClientTransport(new URL(`${airlock.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${airlock.apiKey}` } },
  });
  const client = new Client({ name: 'airlock-test', version: '1.0.0' });
  try {
    await client.connect(transport);
    return await use(client, transport);
  } finally {
    await client.close();
  }
}

async function call(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return withClient(async (client) => (await client.callTool({ name, arguments: args })) as CallToolResult);
}

function text(result: CallToolResult): string {
  const block = result.content[0];
  return block?.type === 'text' ? block.text : '';
}

/** One JSON-RPC request posted as a bare HTTP request, without an initialize before it. */
async function postRpc(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return fetch(`${airlock.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${airlock.apiKey}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...body }),
  });
}

/** The JSON-RPC messages of an SSE response body. */
async function sseMessages(response: Response): Promise<Array<Record<string, unknown>>> {
  const body = await response.text();
  return body
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as Record<string, unknown>);
}

const threadId = () => `mcp-${randomBytes(6).toString('hex')}`;

describe('MCP server', () => {
  it('lists sandbox_execute, files_list and files_download with input and output schemas', async () => {
    await withClient(async (client, transport) => {
      expect(client.getServerVersion()).toMatchObject({ name: 'airlock' });
      expect(transport.protocolVersion).toBe('2025-11-25');
      expect(transport.sessionId).toBeUndefined();
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual(['files_download', 'files_list', 'sandbox_execute']);
      const execute = tools.find((tool) => tool.name === 'sandbox_execute')!;
      expect(execute.description).toContain(SANDBOX_DESCRIPTION);
      expect(tools.map((tool) => tool.name).sort()).toEqual([...MCP_TOOL_NAMES].sort());
      expect(execute.description).toContain('/home/sandbox');
      expect(execute.inputSchema.required).toEqual(['code']);
      expect(execute.inputSchema.properties).toMatchObject({
        code: { type: 'string' },
        language: { enum: ['python', 'node', 'bash'], default: 'python' },
        timeout: { type: 'integer', minimum: 1, maximum: 3600, default: 60 },
        thread_id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
      });
      expect(execute.outputSchema?.properties).toHaveProperty('exit_code');
      expect(execute.outputSchema?.properties).toHaveProperty('stdout_truncated');
      const download = tools.find((tool) => tool.name === 'files_download')!;
      expect(download.inputSchema.required?.sort()).toEqual(['path', 'thread_id']);
      expect(download.annotations).toMatchObject({ readOnlyHint: true });
      expect(tools.find((tool) => tool.name === 'files_list')!.inputSchema.required).toEqual(['thread_id']);
    });
  });

  it('sandbox_execute runs python and returns the result as structured content and as JSON text', async () => {
    const result = await call('sandbox_execute', { code: 'import sys\nprint(6 * 7)\nprint("warn", file=sys.stderr)' });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      success: true,
      stdout: '42\n',
      stderr: 'warn\n',
      exit_code: 0,
      status: 'success',
      error: null,
      stdout_truncated: false,
    });
    expect(result.structuredContent?.trace_id).toMatch(/^trc_/);
    expect(JSON.parse(text(result))).toEqual(result.structuredContent);
  });

  it('a program that fails is a normal result with its exit code, not a tool error', async () => {
    const result = await call('sandbox_execute', { language: 'bash', code: 'echo broken >&2; exit 3' });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ success: false, exit_code: 3, status: 'failed', stderr: 'broken\n' });
    const timedOut = await call('sandbox_execute', { language: 'node', code: 'setInterval(() => {}, 1000)', timeout: 1 });
    expect(timedOut.isError).toBeFalsy();
    expect(timedOut.structuredContent).toMatchObject({ status: 'timeout', exit_code: 137, success: false });
  });

  it('a thread keeps /home/sandbox between calls; files_list and files_download read it', async () => {
    const thread = threadId();
    const written = await call('sandbox_execute', {
      thread_id: thread,
      code: [
        'import os',
        'os.makedirs("reports", exist_ok=True)',
        'open("reports/summary.txt", "w").write("total: 42\\nnaïve ✓\\n")',
        'open("reports/data.bin", "wb").write(bytes(range(256)))',
        'open("reports/big.txt", "w").write("x" * (256 * 1024 + 1))',
        'open("/tmp/scratch", "w").write("gone")',
      ].join('\n'),
    });
    expect(written.structuredContent).toMatchObject({ exit_code: 0 });
    const read = await call('sandbox_execute', {
      thread_id: thread,
      language: 'bash',
      code: 'cat reports/summary.txt; test -e /tmp/scratch && echo tmp-kept || echo tmp-empty',
    });
    expect(read.structuredContent).toMatchObject({ exit_code: 0, stdout: 'total: 42\nnaïve ✓\ntmp-empty\n' });

    const listed = await call('files_list', { thread_id: thread, path: 'reports' });
    expect(listed.isError).toBeFalsy();
    const files = (listed.structuredContent as { files: Array<Record<string, unknown>> }).files;
    expect(files.map((file) => file.path).sort()).toEqual(['reports/big.txt', 'reports/data.bin', 'reports/summary.txt']);
    expect(files.find((file) => file.name === 'summary.txt')).toMatchObject({ size: 21, is_directory: false });
    const whole = await call('files_list', { thread_id: thread });
    expect((whole.structuredContent as { files: unknown[] }).files).toContainEqual(
      expect.objectContaining({ path: 'reports', is_directory: true }),
    );

    const download = await call('files_download', { thread_id: thread, path: 'reports/summary.txt' });
    expect(download.isError).toBeFalsy();
    expect(download.structuredContent).toMatchObject({ path: 'reports/summary.txt', size: 21, content: 'total: 42\nnaïve ✓\n' });
    const url = String(download.structuredContent?.url);
    expect(url.startsWith(airlock.url)).toBe(true);
    const fetched = await fetch(url);
    expect(fetched.status).toBe(200);
    expect(await fetched.text()).toBe('total: 42\nnaïve ✓\n');

    const binary = await call('files_download', { thread_id: thread, path: 'reports/data.bin' });
    expect(binary.structuredContent).toMatchObject({ size: 256, content: null });
    expect(Buffer.from(await (await fetch(String(binary.structuredContent?.url))).arrayBuffer())).toEqual(
      Buffer.from(Array.from({ length: 256 }, (_, index) => index)),
    );

    const big = await call('files_download', { thread_id: thread, path: 'reports/big.txt' });
    expect(big.structuredContent).toMatchObject({ size: 256 * 1024 + 1, content: null });

    const missing = await call('files_download', { thread_id: thread, path: 'reports/nothing.txt' });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/^not_found: no file reports\/nothing.txt/);
  });

  it('API errors are tool errors that say what to fix: validation and a busy thread', async () => {
    const zeroTimeout = await call('sandbox_execute', { code: 'print(1)', timeout: 0 });
    expect(zeroTimeout.isError).toBe(true);
    expect(text(zeroTimeout)).toMatch(/timeout/);
    expect(text(zeroTimeout)).toMatch(/at least 1 second/);
    const ruby = await call('sandbox_execute', { code: 'puts 1', language: 'ruby' });
    expect(ruby.isError).toBe(true);
    expect(text(ruby)).toMatch(/language/);
    expect(text(ruby)).toMatch(/python.*node.*bash/);
    const traversal = await call('files_download', { thread_id: threadId(), path: '../etc/passwd' });
    expect(traversal.isError).toBe(true);
    expect(text(traversal)).toMatch(/must not contain "\." or "\.\." segments.* at path/);
    const unknownField = await call('sandbox_execute', { code: 'print(1)', env_vars: { A: '1' } });
    expect(unknownField.isError).toBe(true);
    expect(text(unknownField)).toMatch(/env_vars/);

    const thread = threadId();
    const [first, second] = await Promise.all([
      call('sandbox_execute', { thread_id: thread, language: 'bash', code: 'sleep 2; echo done' }),
      new Promise((resolve) => setTimeout(resolve, 500)).then(() =>
        call('sandbox_execute', { thread_id: thread, language: 'bash', code: 'echo second' }),
      ),
    ]);
    expect(first.structuredContent).toMatchObject({ stdout: 'done\n' });
    expect(second.isError).toBe(true);
    expect(text(second)).toMatch(/^thread_busy: /);
  });

  it('protocol errors are JSON-RPC errors that say what is wrong', async () => {
    const rpcError = async (response: Response) => [response.status, ((await response.json()) as { error: unknown }).error];
    expect(await rpcError(await postRpc({ method: 'tools/call', params: { name: 'nope', arguments: {} } }))).toEqual([
      200,
      { code: -32602, message: 'Unknown tool "nope": this server\'s tools are sandbox_execute, files_list, files_download' },
    ]);
    expect(await rpcError(await postRpc({ method: 'tools/call', params: { name: 5 } }))).toEqual([
      200,
      { code: -32602, message: 'Invalid params: tools/call needs params.name, one of sandbox_execute, files_list, files_download' },
    ]);
    expect(await rpcError(await postRpc({ method: 'tools/call', params: { name: 'sandbox_execute', arguments: 'print(1)' } }))).toEqual([
      200,
      { code: -32602, message: 'Invalid params: the arguments of sandbox_execute are a JSON object of its input schema\'s fields' },
    ]);
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${airlock.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${airlock.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body,
      });
    expect(await rpcError(await post(JSON.stringify({ id: 1, method: 'tools/list' })))).toEqual([
      400,
      { code: -32600, message: 'Invalid Request: every message is a JSON object with "jsonrpc": "2.0"' },
    ]);
    expect(await rpcError(await post('{"jsonrpc": '))).toEqual([400, { code: -32700, message: 'Parse error: the body is not JSON' }]);
    const batch = JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }]);
    expect(await rpcError(await post(batch, { 'mcp-protocol-version': '2025-11-25' }))).toEqual([
      400,
      { code: -32600, message: 'Invalid Request: MCP 2025-11-25 has no JSON-RPC batches (removed in 2025-06-18); send one message per request' },
    ]);
    expect((await post(batch, { 'mcp-protocol-version': '2025-03-26' })).status).toBe(200);
    expect(await rpcError(await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), { 'mcp-protocol-version': '2024-10-07' }))).toEqual([
      400,
      {
        code: -32000,
        message: 'Bad Request: unsupported MCP-Protocol-Version "2024-10-07"; this server speaks 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05',
      },
    ]);
  });

  it('refuses an Origin it does not allow with 403, before anything else', async () => {
    const refused = await postRpc({ method: 'tools/list' }, { origin: 'https://evil.example', authorization: '' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: 'Forbidden: Origin "https://evil.example" is not allowed (AIRLOCK_CORS_ORIGINS)' },
    });
    const withOrigins = await startAirlock({ environment: { AIRLOCK_CORS_ORIGINS: 'https://app.example.com' } });
    try {
      const fromAllowed = await fetch(`${withOrigins.url}/mcp`, {
        method: 'POST',
        headers: {
          origin: 'https://app.example.com',
          authorization: `Bearer ${withOrigins.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(fromAllowed.status).toBe(200);
      const fromOther = await fetch(`${withOrigins.url}/mcp`, { method: 'POST', headers: { origin: 'https://app.example.com.evil.example' } });
      expect(fromOther.status).toBe(403);
    } finally {
      await withOrigins.close();
    }
  });

  it('initialize does not promise tools/list_changed notifications, which a stateless server never sends', async () => {
    const response = await postRpc({
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } },
    });
    const [message] = await sseMessages(response);
    expect(message).toMatchObject({ result: { protocolVersion: '2025-11-25', capabilities: { tools: { listChanged: false } } } });
  });

  it('refuses requests without a valid API key with 401 unauthorized', async () => {
    const missing = await postRpc({ method: 'tools/list' }, { authorization: '' });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="airlock"');
    expect(await missing.json()).toMatchObject({ error: 'unauthorized' });
    const unknown = await postRpc({ method: 'tools/list' }, { authorization: `Bearer ${testApiKey()}` });
    expect(unknown.status).toBe(401);
    expect((await fetch(`${airlock.url}/mcp`, { headers: { accept: 'text/event-stream' } })).status).toBe(401);

    const transport = new StreamableHTTPClientTransport(new URL(`${airlock.url}/mcp`), {
      requestInit: { headers: { authorization: 'Bearer sk-test-not-a-real-key-at-all' } },
    });
    const client = new Client({ name: 'airlock-test', version: '1.0.0' });
    try {
      await expect(client.connect(transport)).rejects.toMatchObject({ code: 401, message: expect.stringMatching(/unauthorized/) });
    } finally {
      await client.close();
    }
  });

  it('is stateless: a request needs no initialize and gets no session id; GET has no stream to offer', async () => {
    const response = await postRpc({ method: 'tools/list' }, { 'mcp-protocol-version': '2025-11-25' });
    expect(response.status).toBe(200);
    expect(response.headers.get('mcp-session-id')).toBeNull();
    expect(response.headers.get('ratelimit-limit')).not.toBeNull();
    const [message] = await sseMessages(response);
    expect(message).toMatchObject({ id: 1, result: { tools: expect.any(Array) } });

    const executed = await postRpc({
      method: 'tools/call',
      params: { name: 'sandbox_execute', arguments: { language: 'bash', code: 'echo stateless' } },
    });
    const [result] = await sseMessages(executed);
    expect(result).toMatchObject({ id: 1, result: { structuredContent: { stdout: 'stateless\n', exit_code: 0 } } });

    const get = await fetch(`${airlock.url}/mcp`, {
      headers: { authorization: `Bearer ${airlock.apiKey}`, accept: 'text/event-stream' },
    });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('works with the MCP Inspector CLI: tools/list and tools/call', async () => {
    const target = [`${airlock.url}/mcp`, '--transport', 'http', '--header', `Authorization: Bearer ${airlock.apiKey}`];
    const { tools } = (await inspector([...target, '--method', 'tools/list'])) as { tools: Array<{ name: string }> };
    expect(tools.map((tool) => tool.name).sort()).toEqual(['files_download', 'files_list', 'sandbox_execute']);

    const called = (await inspector([
      ...target,
      '--method',
      'tools/call',
      '--tool-name',
      'sandbox_execute',
      '--tool-arg',
      'code=print(6 * 7)',
      'timeout=10',
    ])) as CallToolResult;
    expect(called.isError).toBeFalsy();
    expect(called.structuredContent).toMatchObject({ stdout: '42\n', exit_code: 0 });
  });
});
