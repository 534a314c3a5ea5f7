import * as z from 'zod';
import { Airlock } from '../client.js';
import { AirlockConfigurationError, ThreadBusyError, ValidationError } from '../errors.js';
import type { ExecutionResult, Language } from '../types.js';

/**
 * What every framework's `codeSandbox` tool shares: its name, its description for the model, its input schema and the
 * call that runs the input through the SDK client. Only the tool subpaths (`@airlock/sdk/ai`, ...) import this module,
 * so zod never loads from the SDK's root entry.
 */

export const CODE_SANDBOX_TOOL_NAME = 'code_sandbox';

/** Output beyond this many bytes per stream is cut by the server (docs/api.md). */
const OUTPUT_LIMIT_KILOBYTES = 64;
const LANGUAGES = ['python', 'node', 'bash'] as const satisfies readonly Language[];

export interface CodeSandboxToolOptions {
  /** The client that runs the code. @default a new Airlock({ apiKey, baseUrl }), made at the tool's first call */
  client?: Airlock;
  /** @default AIRLOCK_API_KEY environment variable */
  apiKey?: string;
  /** @default AIRLOCK_URL environment variable, else http://127.0.0.1:8080 */
  baseUrl?: string;
  /** The thread the code runs in when the model names none; calls with the same thread share `/home/sandbox`. */
  threadId?: string;
  /** The language when the model names none. @default 'python' */
  language?: Language;
  /** Seconds the code may run when the model names no timeout. @default the server's (60) */
  timeout?: number;
  /**
   * The network of the API key (its sandbox config's, as the key narrows it), so the description tells the model what
   * it allows: `blocked` (no network), `allowlist` (only the names and networks of `networkAllow`) or `unrestricted`
   * (the internet, without private and host addresses). @default 'blocked'
   */
  network?: NetworkMode;
  /** With network `allowlist`: its entries (an execution record's `network_allow` shows them), named to the model. */
  networkAllow?: readonly string[];
}

type NetworkMode = 'blocked' | 'allowlist' | 'unrestricted';

/** What the sandbox's network lets code do, by network mode (with an allowlist's entries). */
function networkFacts(network: NetworkMode, allow: readonly string[]): string {
  switch (network) {
    case 'blocked':
      return [
        'It has no network access (no DNS, loopback only): pip install, npm install and downloads fail, so work with what',
        'is installed.',
      ].join(' ');
    case 'allowlist':
      return [
        `It reaches only these names and networks: ${allow.length > 0 ? allow.join(', ') : '(none)'}. Names outside the list`,
        'do not resolve and other addresses are refused; HTTPS and HTTP go to the listed names only (QUIC is refused, so',
        'clients use TCP). Private networks, cloud metadata addresses, the host itself and port 25 are always unreachable.',
      ].join(' ');
    case 'unrestricted':
      return [
        'It has internet access (DNS, HTTP and HTTPS; pip install --user and npm install work), but private networks,',
        'cloud metadata addresses and the host itself are unreachable, and so is port 25 (mail).',
      ].join(' ');
  }
}

/**
 * What the sandbox is and can do with `network` (and, for `allowlist`, its entries): the server's own description of
 * it (sandboxDescription in the contracts, which the tool subpaths do not import), pinned to it by a test.
 */
export function sandboxFacts(network: NetworkMode, allow: readonly string[] = []): string {
  return [
    'The sandbox is a Debian 13 system with bash, coreutils, Python 3.13 with pip and numpy, pandas, scipy,',
    'scikit-learn, matplotlib (no display: save figures to files), pillow, pyarrow, sympy, requests, httpx,',
    'beautifulsoup4, lxml, openpyxl and the drivers psycopg, pymysql, redis, pymongo, boto3, google-cloud-storage,',
    'google-cloud-bigquery and azure-storage-blob installed, Node.js 24 with npm, curl, git, gh, jq, sqlite3, psql,',
    'mysql and redis-cli.',
    networkFacts(network, allow),
    'The code runs as an unprivileged user in /home/sandbox. /tmp is emptied after every call and no',
    `process outlives it. stdout and stderr are each cut after ${OUTPUT_LIMIT_KILOBYTES} KB, so print summaries,`,
    'not whole data sets. Code still running at its timeout is killed (exit code 137); a non-zero exit code, a timeout',
    'or running out of memory is a normal result, not an error: read stderr and fix the code.',
  ].join(' ');
}

/** What a sandbox without network, the default, is and can do. */
export const SANDBOX_FACTS = sandboxFacts('blocked');

/** The description's network facts for the options; an allowlist without entries, or entries without one, is refused. */
function sandboxFactsFor(options: CodeSandboxToolOptions): string {
  const network = options.network ?? 'blocked';
  const allow = options.networkAllow;
  if (network === 'allowlist' && !allow?.length) {
    throw new AirlockConfigurationError("networkAllow: network 'allowlist' needs its entries (an execution record's network_allow)");
  }
  if (network !== 'allowlist' && allow !== undefined) {
    throw new AirlockConfigurationError(`networkAllow: only network 'allowlist' has entries, not '${network}'`);
  }
  return sandboxFacts(network, allow);
}

function codeSandboxDescription(options: CodeSandboxToolOptions = {}): string {
  const thread = options.threadId
    ? `Calls share the thread "${options.threadId}" unless you pass another thread_id.`
    : 'Without a thread_id every call starts from an empty home.';
  return [
    'Run code in an isolated Linux sandbox and get its stdout, stderr and exit code.',
    sandboxFactsFor(options),
    `/home/sandbox persists between calls that pass the same thread_id (files, installed packages); ${thread}`,
    'Each call is a fresh process: variables do not carry over, files in the home do.',
  ].join(' ');
}

/** The tool's input, as the model sends it: snake_case like the API, optional fields nullable for strict schemas. */
function codeSandboxInputSchema(options: CodeSandboxToolOptions = {}) {
  const language = options.language ?? 'python';
  return z.object({
    code: z.string().min(1).describe('The program to run: a whole script, not a REPL line; print what you want to see.'),
    language: z
      .enum(LANGUAGES)
      .nullish()
      .describe(`python (python3), node (JavaScript) or bash; null means ${language}.`),
    timeout: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .nullish()
      .describe(`Seconds the code may run, 1-3600; null means ${options.timeout ?? 60}.`),
    thread_id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,128}$/)
      .nullish()
      .describe(
        options.threadId
          ? `The thread whose /home/sandbox the code sees; null means "${options.threadId}".`
          : 'Name a thread (letters, digits, _ and -) to keep /home/sandbox for later calls with the same name; null for a throwaway home.',
      ),
  });
}

export type CodeSandboxInput = z.input<ReturnType<typeof codeSandboxInputSchema>>;

export interface CodeSandboxRunOptions {
  signal?: AbortSignal;
}

/** Runs the model's input in Airlock and answers the result as text for the model. */
export type CodeSandboxRunner = (input: CodeSandboxInput, options?: CodeSandboxRunOptions) => Promise<string>;

/**
 * Runs one call. Mistakes the model can correct (an invalid timeout, a busy thread) come back as text for it;
 * configuration and connection errors are thrown.
 */
function createCodeSandboxRunner(options: CodeSandboxToolOptions = {}): CodeSandboxRunner {
  let client = options.client;
  return async (input, { signal } = {}) => {
    client ??= new Airlock({ apiKey: options.apiKey, baseUrl: options.baseUrl });
    try {
      const result = await client.execute(input.code, {
        language: input.language ?? options.language,
        timeout: input.timeout ?? options.timeout,
        threadId: input.thread_id ?? options.threadId,
        signal,
      });
      return formatResult(result);
    } catch (error) {
      if (error instanceof ThreadBusyError) {
        return 'Another call is still running on this thread_id; wait for it to finish, then call again.';
      }
      if (error instanceof ValidationError) return `The sandbox refused the call: ${error.message}`;
      throw error;
    }
  };
}

/** The result as the model reads it: exit code and status, then each stream that printed something. */
function formatResult(result: ExecutionResult): string {
  const lines = [`exit_code: ${result.exitCode} (${result.status})`];
  if (result.errorMessage) lines.push(`error: ${result.errorMessage}`);
  const streams = [
    ['stdout', result.stdout, result.stdoutTruncated],
    ['stderr', result.stderr, result.stderrTruncated],
  ] as const;
  for (const [name, text, truncated] of streams) {
    if (!text && !truncated) continue;
    lines.push(`--- ${name}${truncated ? ` (truncated at ${OUTPUT_LIMIT_KILOBYTES} KB)` : ''} ---\n${text.replace(/\n+$/, '')}`);
  }
  if (lines.length === 1) lines.push('(no output)');
  return lines.join('\n');
}

/** The parts every framework's tool is made of, for the options of `createCodeSandboxTool`. */
export function codeSandboxTool(options: CodeSandboxToolOptions = {}) {
  return {
    name: CODE_SANDBOX_TOOL_NAME,
    description: codeSandboxDescription(options),
    inputSchema: codeSandboxInputSchema(options),
    run: createCodeSandboxRunner(options),
  };
}
