import { Hono, type MiddlewareHandler } from 'hono';
import { EnvVars } from '@airlock/contracts';
import { z } from 'zod';
import { ApiError } from '../../services/api-error.js';
import type { AdminService } from '../../services/admin-service.js';
import type { AppEnv } from '../app-context.js';
import { validationError } from '../errors.js';
import { readJson } from '../middleware.js';

const CreateKeyRequest = z.strictObject({
  name: z.string().min(1).max(128),
  organization: z.string().min(1).optional(),
  sandbox: z.string().min(1).optional(),
  env_vars: EnvVars.optional(),
  network: z.literal('blocked', { error: "a key can only narrow the network to 'blocked'" }).optional(),
});

const SandboxSettings = z.strictObject({
  image: z.string().min(1).optional(),
  cpu: z.number().min(0.5, 'at least 0.5 cores').max(4, 'at most 4 cores').optional(),
  memory_mb: z.number().int().min(128, 'at least 128 MiB').max(16384, 'at most 16384 MiB').optional(),
  network: z.enum(['blocked', 'unrestricted']).optional(),
  env_vars: EnvVars.optional(),
  timeout_max_seconds: z.number().int().min(1).max(86_400).optional(),
  execution_retention: z.enum(['1h', '24h', '7d', '30d', 'forever']).optional(),
  thread_retention: z.enum(['24h', '7d', '30d', 'forever']).optional(),
});
const CreateSandboxRequest = SandboxSettings.extend({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63'),
  organization: z.string().min(1).optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** Instance administration, authenticated by the admin token (never by sandbox API keys). */
export function adminRoutes(admin: AdminService): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const requireAdmin: MiddlewareHandler<AppEnv> = async (context, next) => {
    const token = /^Bearer\s+(\S+)$/i.exec(context.req.header('authorization') ?? '')?.[1];
    if (!token || !admin.isAdminToken(token)) {
      throw ApiError.unauthorized('admin endpoints need Authorization: Bearer <admin token>');
    }
    await next();
  };
  routes.use('/admin/*', requireAdmin);

  routes.get('/admin/v1/api-keys', async (context) => {
    return context.json({ api_keys: await admin.listKeys(context.req.query('organization')) });
  });

  routes.post('/admin/v1/api-keys', async (context) => {
    const request = parse(CreateKeyRequest, await readJson(context.req.raw));
    return context.json(await admin.createKey(request), 201);
  });

  routes.delete('/admin/v1/api-keys/:id', async (context) => {
    await admin.revokeKey(context.req.param('id'), context.req.query('organization'));
    return context.body(null, 204);
  });

  routes.get('/admin/v1/sandboxes', async (context) => {
    return context.json({ sandboxes: await admin.listSandboxes(context.req.query('organization')) });
  });

  routes.post('/admin/v1/sandboxes', async (context) => {
    const { name, organization, ...settings } = parse(CreateSandboxRequest, await readJson(context.req.raw));
    return context.json(await admin.createSandbox(name, settings, organization), 201);
  });

  routes.patch('/admin/v1/sandboxes/:name', async (context) => {
    const settings = parse(SandboxSettings, await readJson(context.req.raw));
    return context.json(await admin.updateSandbox(context.req.param('name'), settings, context.req.query('organization')));
  });

  return routes;
}
