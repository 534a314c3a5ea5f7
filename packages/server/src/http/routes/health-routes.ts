import { Hono } from 'hono';
import type { ServerMetrics } from '../../services/metrics.js';
import type { AppEnv } from '../app-context.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

export function healthRoutes(checks: ReadinessCheck[], metrics: ServerMetrics): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get('/healthz', (context) => context.json({ status: 'ok' }));
  routes.get('/readyz', async (context) => {
    const results = await Promise.all(
      checks.map(async ({ name, check }) => [name, await check().catch(() => false)] as const),
    );
    const ready = results.every(([, ok]) => ok);
    return context.json(
      { status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) },
      ready ? 200 : 503,
    );
  });
  routes.get('/metrics', async (context) =>
    context.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  );
  return routes;
}
