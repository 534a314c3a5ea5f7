import { readFileSync } from 'node:fs';
import { Airlock, AirlockApiError, AirlockConnectionError, type Language } from '@airlock/sdk';
import { serverUrl } from '../http-client.js';
import { CommandError } from '../run-command.js';

/** Runs a file (or standard input) through the SDK; answers the code's exit code. */
export async function execCommand(
  file: string,
  options: { language: string; thread?: string; timeout?: number },
): Promise<number> {
  const apiKey = process.env.AIRLOCK_API_KEY;
  if (!apiKey) throw new CommandError('set AIRLOCK_API_KEY to the API key printed by "airlock serve"');
  const code = readFileSync(file === '-' ? 0 : file, 'utf8');
  const airlock = new Airlock({ apiKey, baseUrl: serverUrl() });
  let result;
  try {
    result = await airlock.execute(code, { language: options.language as Language, threadId: options.thread, timeout: options.timeout });
  } catch (error) {
    if (error instanceof AirlockApiError) throw new CommandError(`server answered ${error.status}: ${error.message}`);
    if (error instanceof AirlockConnectionError) {
      throw new CommandError(`cannot reach ${serverUrl()}: ${error.message}; is "airlock serve" running?`);
    }
    throw error;
  }
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.error) process.stderr.write(`airlock: ${result.status}: ${result.errorMessage ?? result.error}\n`);
  return result.exitCode;
}
