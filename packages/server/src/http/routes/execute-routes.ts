import { ExecuteRequest, TRACE_ID_PATTERN } from '@airlock/contracts';
import { Hono, type Context } from 'hono';
import { ApiError } from '../../services/api-error.js';
import { recordedResponse } from '../../services/execution-records.js';
import type { BackgroundExecutions } from '../../services/background-executions.js';
import type { ExecutionService } from '../../services/execution-service.js';
import type { AppEnv } from '../app-context.js';
import { validationError } from '../errors.js';
import { readJson } from '../middleware.js';
import { followLog, recordedEvents, streamExecution } from './execute-stream.js';

export function executeRoutes(executions: ExecutionService, background: BackgroundExecutions): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post('/v1/sandbox/execute', async (context) => {
    const parsed = ExecuteRequest.safeParse(await readJson(context.req.raw));
    if (!parsed.success) throw validationError(parsed.error);
    if (prefersAsync(context.req.header('prefer'))) {
      return context.json(await background.start(context.get('principal'), parsed.data, context.get('acceptedAt')), 202);
    }
    if ((context.req.header('accept') ?? '').includes('application/x-ndjson')) {
      return streamExecution(executions, context.get('principal'), parsed.data, context.get('acceptedAt'));
    }
    const result = await executions.execute(context.get('principal'), parsed.data, context.get('acceptedAt'));
    return context.json(result);
  });

  routes.get('/v1/executions/:traceId/output', async (context) => {
    const afterSeq = Number(context.req.query('after_seq') ?? -1);
    if (!Number.isInteger(afterSeq)) throw ApiError.validation('after_seq: must be a whole number');
    const found = await executions.output(context.get('principal'), traceIdParameter(context));
    if ('log' in found) return followLog(found.log, afterSeq);
    const { record } = found;
    return recordedEvents(recordedResponse(record), record.resultSeq, afterSeq);
  });

  routes.post('/v1/executions/:traceId/cancel', async (context) => {
    return context.json(await executions.cancel(context.get('principal'), traceIdParameter(context)));
  });

  routes.get('/v1/executions/:traceId/webhook', async (context) => {
    return context.json(await background.delivery(context.get('principal'), traceIdParameter(context)));
  });

  routes.get('/v1/executions/:traceId', async (context) => {
    return context.json(await executions.get(context.get('principal'), traceIdParameter(context)));
  });

  return routes;
}

/** The route's trace id; one no execution can have (malformed, NUL bytes) is not found without a lookup. */
function traceIdParameter(context: Context<AppEnv>): string {
  const traceId = context.req.param('traceId') ?? '';
  if (!TRACE_ID_PATTERN.test(traceId)) throw ApiError.notFound(`no execution ${JSON.stringify(traceId)} in this organization`);
  return traceId;
}

/** Whether a `Prefer` header (RFC 7240) asks for `respond-async`. */
function prefersAsync(header: string | undefined): boolean {
  return (header ?? '').split(',').some((preference) => preference.split(';')[0]?.trim().toLowerCase() === 'respond-async');
}
