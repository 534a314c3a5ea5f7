import type { ExecuteRequestInput, ExecuteResponse } from '@airlock/contracts';
import type { BenchServer } from './airlock-server.js';

/** One POST /v1/sandbox/execute as the client saw it. */
export interface ExecuteSample {
  /** Client wall time from sending the request to reading the whole response. */
  wallMs: number;
  /** HTTP status; 0 when the request failed without a response. */
  httpStatus: number;
  /** The response body when the status is 200. */
  response: ExecuteResponse | undefined;
  /** The error body or message otherwise. */
  error: string | undefined;
}

/** The outcome of a load run with several requests in flight. */
export interface LoadRun {
  samples: ExecuteSample[];
  elapsedSeconds: number;
}

/**
 * Sends one POST /v1/sandbox/execute with the server's API key; `headers` choose the delivery mode (`accept`,
 * `prefer`). The caller reads the response.
 */
export function postExecute(
  server: BenchServer,
  request: ExecuteRequestInput,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${server.url}/v1/sandbox/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(request),
  });
}

export async function execute(server: BenchServer, request: ExecuteRequestInput): Promise<ExecuteSample> {
  const startedAt = performance.now();
  try {
    const response = await postExecute(server, request);
    const text = await response.text();
    const wallMs = performance.now() - startedAt;
    if (response.status === 200) {
      return { wallMs, httpStatus: 200, response: JSON.parse(text) as ExecuteResponse, error: undefined };
    }
    return { wallMs, httpStatus: response.status, response: undefined, error: text };
  } catch (error) {
    return { wallMs: performance.now() - startedAt, httpStatus: 0, response: undefined, error: String(error) };
  }
}

/** A sample whose request answered 200 with a successful execution. */
export function isSuccess(sample: ExecuteSample): boolean {
  return sample.response?.status === 'success';
}

/**
 * Sends `warmup` unmeasured requests, then `iterations` requests one after another, awaiting `between` after each;
 * every one must succeed.
 */
export async function runSequential(
  server: BenchServer,
  request: ExecuteRequestInput,
  options: { warmup: number; iterations: number; between?: () => Promise<void> },
): Promise<ExecuteSample[]> {
  const samples: ExecuteSample[] = [];
  for (let run = 0; run < options.warmup + options.iterations; run++) {
    const sample = await execute(server, request);
    if (!isSuccess(sample)) {
      throw new Error(
        `${request.language} execution failed during the sequential run (HTTP ${sample.httpStatus}): ` +
          (sample.error ?? JSON.stringify(sample.response)),
      );
    }
    if (run >= options.warmup) samples.push(sample);
    await options.between?.();
  }
  return samples;
}

/**
 * Keeps `concurrency` requests in flight until `requests` have been sent or `seconds` have passed, whichever the
 * caller gave; failures are recorded, not thrown.
 */
export async function runConcurrent(
  server: BenchServer,
  request: ExecuteRequestInput,
  limit: { concurrency: number } & ({ requests: number } | { seconds: number }),
): Promise<LoadRun> {
  const startedAt = performance.now();
  const deadline = 'seconds' in limit ? startedAt + limit.seconds * 1000 : Infinity;
  const requests = 'requests' in limit ? limit.requests : Infinity;
  const samples: ExecuteSample[] = [];
  let sent = 0;
  const client = async (): Promise<void> => {
    while (sent < requests && performance.now() < deadline) {
      sent++;
      samples.push(await execute(server, request));
    }
  };
  await Promise.all(Array.from({ length: limit.concurrency }, client));
  return { samples, elapsedSeconds: (performance.now() - startedAt) / 1000 };
}

/**
 * Client wall time of one authenticated GET that starts no sandbox, reading the whole response. The expected status
 * is checked, so a path that changed meaning fails the run instead of timing an error page.
 */
export async function timeGet(server: BenchServer, path: string, expectedStatus: number): Promise<number> {
  const startedAt = performance.now();
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.apiKey}` } });
  await response.text();
  const wallMs = performance.now() - startedAt;
  if (response.status !== expectedStatus) {
    throw new Error(`GET ${path} answered HTTP ${response.status}, expected ${expectedStatus}`);
  }
  return wallMs;
}
