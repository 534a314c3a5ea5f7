import type * as Sdk from '@airlock/sdk';

/** What one JavaScript runtime observed using the built SDK against a real server. */
export interface SmokeReport {
  runtime: string;
  execute: { stdout: string; exitCode: number | null; success: boolean };
  failedExitCode: number | null;
  validationError: { isValidationError: boolean; code: string | null };
  stream: { eventTypes: string[]; onStdout: string; result: string };
  abortedAs: string;
  files: { listed: string[]; downloaded: string };
}

/**
 * Uses the built SDK the way an application would: execute, a non-zero exit, a refused call, a stream with its
 * callback, an aborted call, and a file's upload, listing and download. It runs in Deno, Bun, Node and a browser page,
 * so it refers to nothing but its arguments and the web platform's globals (a page receives its source as text).
 * Without `options` the client reads AIRLOCK_API_KEY and AIRLOCK_URL from the environment.
 */
export async function runSmoke(sdk: typeof Sdk, runtime: string, options?: Sdk.AirlockOptions): Promise<SmokeReport> {
  const airlock = new sdk.Airlock(options);
  const executed = await airlock.execute('print(6 * 7)');
  const failed = await airlock.execute('exit 3', { language: 'bash' });

  let validationError = { isValidationError: false, code: null as string | null };
  try {
    await airlock.execute('print(1)', { timeout: 0 });
  } catch (error) {
    validationError = { isValidationError: error instanceof sdk.ValidationError, code: (error as Sdk.AirlockApiError).code ?? null };
  }

  let onStdout = '';
  const eventTypes: string[] = [];
  const stream = airlock.executeStream('import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.05)', {
    onStdout: (data) => (onStdout += data),
  });
  for await (const event of stream) {
    if (!eventTypes.includes(event.type)) eventTypes.push(event.type);
  }
  const streamed = await stream.finalResult();

  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  let abortedAs = 'not aborted';
  try {
    await airlock.execute('import time; time.sleep(2)', { timeout: 3, signal: controller.signal });
  } catch (error) {
    abortedAs = (error as Error).name;
  }

  const threadId = `smoke-${runtime}-${Date.now()}`;
  await airlock.files.upload(threadId, 'notes/hello.txt', new Blob([`hello from ${runtime}\n`]));
  const listed = (await airlock.files.list(threadId)).map((file) => file.path).sort();
  const downloaded = await (await airlock.files.download(threadId, 'notes/hello.txt')).text();

  return {
    runtime,
    execute: { stdout: executed.stdout, exitCode: executed.exitCode, success: executed.success },
    failedExitCode: failed.exitCode,
    validationError,
    stream: { eventTypes, onStdout, result: streamed.stdout },
    abortedAs,
    files: { listed, downloaded },
  };
}
