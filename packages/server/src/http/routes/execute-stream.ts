import { StringDecoder } from 'node:string_decoder';
import type { ExecuteRequest, ExecuteResponse } from '@airlock/contracts';
import type { Principal } from '../../services/api-key-service.js';
import type { ExecutionObserver, ExecutionService } from '../../services/execution-service.js';

/** A keepalive event keeps idle connections (and proxies) open while the code prints nothing. */
const KEEPALIVE_MS = 15_000;

/**
 * Runs an execution and answers with NDJSON events as it runs: `status` (with the trace id) first, then `output`
 * chunks of stdout and stderr in the order they are produced, `keepalive` while nothing happens, and a final `result`
 * with the same fields as the inline response. Every event carries a sequence number `seq`.
 *
 * Errors before the code starts (validation, a busy thread, no sandbox) are ordinary HTTP errors. A client that
 * disconnects stops receiving; the execution continues and is recorded.
 */
export async function streamExecution(
  executions: ExecutionService,
  principal: Principal,
  request: ExecuteRequest,
  acceptedAt: number,
): Promise<Response> {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  let seq = 0;
  const body = new ReadableStream<Uint8Array>({
    start: (streamController) => {
      controller = streamController;
    },
    cancel: () => {
      open = false;
    },
  });
  const send = (event: Record<string, unknown>): void => {
    if (!open) return;
    try {
      controller.enqueue(encoder.encode(`${JSON.stringify({ ...event, seq: seq++ })}\n`));
    } catch {
      open = false;
    }
  };
  // Chunks may end inside a multi-byte character; the decoders carry it over to the next chunk.
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const output = (stream: 'stdout' | 'stderr', data: string): void => {
    if (data.length > 0) send({ type: 'output', stream, data });
  };
  let traceId = '';
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const observer: ExecutionObserver = {
    started: (id) => {
      traceId = id;
      send({ type: 'status', trace_id: id, status: 'running' });
      markStarted();
    },
    stdout: (chunk) => output('stdout', decoders.stdout.write(chunk)),
    stderr: (chunk) => output('stderr', decoders.stderr.write(chunk)),
  };

  const finished = executions.execute(principal, request, acceptedAt, observer);
  finished.catch(() => undefined);
  await Promise.race([started, finished]);

  const keepalive = setInterval(() => send({ type: 'keepalive' }), KEEPALIVE_MS);
  const finish = (result: ExecuteResponse): void => {
    output('stdout', decoders.stdout.end());
    output('stderr', decoders.stderr.end());
    send({
      type: 'result',
      trace_id: result.trace_id,
      status: result.status,
      result,
      output_truncated: result.stdout_truncated || result.stderr_truncated,
    });
  };
  void finished
    .then(finish, (error: unknown) =>
      finish({
        success: false,
        stdout: '',
        stderr: '',
        exit_code: null,
        error: error instanceof Error ? error.message : 'the execution failed',
        trace_id: traceId,
        status: 'failed',
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 0,
        overhead_ms: 0,
      }),
    )
    .finally(() => {
      clearInterval(keepalive);
      if (open) controller.close();
    });
  return new Response(body, {
    headers: { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' },
  });
}
