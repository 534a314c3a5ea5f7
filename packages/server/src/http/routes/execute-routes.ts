import { ExecuteRequest } from '@airlock/contracts';
import { Hono } from 'hono';
import type { ExecutionService } from '../../services/execution-service.js';
import type { AppEnv } from '../app-context.js';
import { validationError } from '../errors.js';
import { readJson } from '../middleware.js';
import { streamExecution } from './execute-stream.js';

export function executeRoutes(executions: ExecutionService): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post('/v1/sandbox/execute', async (context) => {
    const parsed = ExecuteRequest.safeParse(await readJson(context.req.raw));
    if (!parsed.success) throw validationError(parsed.error);
    if ((context.req.header('accept') ?? '').includes('application/x-ndjson')) {
      return streamExecution(executions, context.get('principal'), parsed.data, context.get('acceptedAt'));
    }
    const result = await executions.execute(context.get('principal'), parsed.data, context.get('acceptedAt'));
    return context.json(result);
  });

  routes.get('/v1/executions/:traceId', async (context) => {
    return context.json(await executions.get(context.get('principal'), context.req.param('traceId')));
  });

  return routes;
}
