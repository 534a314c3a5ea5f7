import { readFileSync } from 'node:fs';
import { CommandError } from '../run-command.js';
import { requestJson, serverUrl } from '../http-client.js';

interface ExecResult {
  stdout: string;
  stderr: string;
  exit_code: number | null;
  status: string;
  error: string | null;
  error_message?: string | null;
}

export async function execCommand(
  file: string,
  options: { language: string; thread?: string; timeout?: number },
): Promise<number> {
  const apiKey = process.env.AIRLOCK_API_KEY;
  if (!apiKey) throw new CommandError('set AIRLOCK_API_KEY to the API key printed by "airlock serve"');
  const code = readFileSync(file === '-' ? 0 : file, 'utf8');
  const result = await requestJson<ExecResult>({
    url: `${serverUrl()}/v1/sandbox/execute`,
    method: 'POST',
    token: apiKey,
    body: { code, language: options.language, thread_id: options.thread, timeout: options.timeout },
  });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.error) process.stderr.write(`airlock: ${result.status}: ${result.error_message ?? result.error}\n`);
  return result.exit_code ?? 1;
}
