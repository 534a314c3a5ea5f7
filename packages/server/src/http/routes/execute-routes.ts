import { ExecuteRequest } from '@airlock/contracts';
import { Hono } from 'hono';
import { ApiError } from '../../services/api-error.js';
import type { ExecutionService } from '../../services/execution-service.js';
import type { AppEnv } from '../app-context.js';
import { validationError } from '../errors.js';
import { readJson } from '../middleware.js';

export function executeRoutes(executions: ExecutionService): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post('/v1/sandbox/execute', async (context) => {
    const accept = context.req.header('accept') ?? '';
    if (accept.includes('application/x-ndjson')) {
      throw ApiError.validation('Accept: streaming (application/x-ndjson) is not supported by this server yet; accept application/json');
    }
    const parsed = ExecuteRequest.safeParse(await readJson(context.req.raw));
    if (!parsed.success) throw validationError(parsed.error);
    const result = await executions.execute(context.get('principal'), parsed.data, context.get('acceptedAt'));
    return context.json(result);
  });

  routes.get('/v1/executions/:traceId', async (context) => {
    return context.json(await executions.get(context.get('principal'), context.req.param('traceId')));
  });

  return routes;
}
