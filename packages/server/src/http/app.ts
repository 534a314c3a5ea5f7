import { Hono } from 'hono';
import { ApiError } from '../services/api-error.js';
import type { AdminService } from '../services/admin-service.js';
import type { ApiKeyService } from '../services/api-key-service.js';
import type { ExecutionService } from '../services/execution-service.js';
import type { Logger } from '../services/logger.js';
import type { ServerMetrics } from '../services/metrics.js';
import type { AppEnv } from './app-context.js';
import { errorResponse } from './errors.js';
import { authenticate, limitBody, requestId } from './middleware.js';
import { adminRoutes } from './routes/admin-routes.js';
import { executeRoutes } from './routes/execute-routes.js';
import { healthRoutes, type ReadinessCheck } from './routes/health-routes.js';

export interface AppServices {
  apiKeys: ApiKeyService;
  executions: ExecutionService;
  admin: AdminService;
  readiness: ReadinessCheck[];
  metrics: ServerMetrics;
  logger: Logger;
}

export function createApp(services: AppServices): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestId);
  app.use('*', limitBody);
  app.use('/v1/*', authenticate(services.apiKeys));
  app.route('/', healthRoutes(services.readiness, services.metrics));
  app.route('/', executeRoutes(services.executions));
  app.route('/', adminRoutes(services.admin));
  app.notFound(() => {
    throw ApiError.notFound('no such endpoint');
  });
  app.onError((error, context) => errorResponse(context, error, services.logger));
  return app;
}
