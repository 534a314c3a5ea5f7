import type { ExecuteRequest, ExecuteResponse, ExecutionEvent } from '@airlock/contracts';
import type { Principal } from '../auth/api-key-service.js';
import { recordedResponse } from './execution-records.js';
import { resultEvent, type ExecutionLog, type NewEvent } from './execution-log.js';
import type { ExecuteOptions, ExecutionService } from './execution-service.js';

/** The headers of an answer that streams an execution's events. */
export const NDJSON_HEADERS = { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' };

/**
 * Runs an execution and answers with its NDJSON events as it runs (see ExecutionLog). Errors before the code starts
 * (validation, a busy thread, no sandbox) are ordinary HTTP errors. A client that disconnects stops receiving; the
 * execution continues and is recorded.
 */
export async function streamExecution(
  executions: ExecutionService,
  principal: Principal,
  request: ExecuteRequest,
  options: Omit<ExecuteOptions, 'answer'>,
): Promise<Response> {
  let markStarted: (log: ExecutionLog) => void = () => undefined;
  const started = new Promise<ExecutionLog>((resolve) => (markStarted = resolve));
  const finished = executions.execute(principal, request, { ...options, answer: { mode: 'streaming', onStarted: (log) => markStarted(log) } });
  finished.catch(() => undefined);
  const log = await Promise.race([started, finished.then(() => started)]);
  return followLog(log, -1);
}

/**
 * An execution's events after `afterSeq` as NDJSON (`GET .../output`): live from its log while it runs or just ran
 * on this node, relayed live from the node running it, else made up from its finished record. 404 for an execution absent from the organization.
 */
export async function replayExecution(executions: ExecutionService, orgId: string, traceId: string, afterSeq: number): Promise<Response> {
  const found = await executions.output(orgId, traceId, afterSeq);
  if ('relayed' in found) return found.relayed;
  return 'log' in found ? followLog(found.log, afterSeq) : recordedEvents(recordedResponse(found.record), found.record.resultSeq, afterSeq);
}

/** The log's events after `afterSeq` as an NDJSON response that follows the execution until it ends. */
export function followLog(log: ExecutionLog, afterSeq: number): Response {
  const encoder = new TextEncoder();
  let stop: () => void = () => undefined;
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      stop = log.follow(afterSeq, (event) => {
        try {
          if (event === null) controller.close();
          else controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`));
        } catch {
          stop();
        }
      });
    },
    cancel: () => stop(),
  });
  return new Response(body, { headers: NDJSON_HEADERS });
}

/**
 * Events made up from a finished execution's record, for a replay after its live events are gone. The result event
 * has the seq it had live (`resultSeq`, when recorded). A full replay (`afterSeq` < 0) has the status, the output as
 * one event per stream and the result; a resumed one (the reader saw events up to `afterSeq`) only the result, whose
 * stdout and stderr hold all the output.
 */
export function recordedEvents(result: ExecuteResponse, resultSeq: number | null, afterSeq: number): Response {
  const events: NewEvent[] = [];
  if (afterSeq < 0) {
    events.push({ type: 'status', trace_id: result.trace_id, status: 'running' });
    if (result.stdout) events.push({ type: 'output', stream: 'stdout', data: result.stdout });
    if (result.stderr) events.push({ type: 'output', stream: 'stderr', data: result.stderr });
  }
  const numbered = events.map((event, seq) => ({ ...event, seq }) as ExecutionEvent);
  const seq = Math.max(resultSeq ?? 0, numbered.length);
  if (seq > afterSeq) numbered.push({ ...resultEvent(result), seq });
  return new Response(numbered.map((event) => `${JSON.stringify(event)}\n`).join(''), { headers: NDJSON_HEADERS });
}
