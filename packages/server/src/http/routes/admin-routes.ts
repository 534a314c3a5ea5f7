import { Hono, type Context, type MiddlewareHandler } from 'hono';
import {
  ApiKeyPath,
  CreateApiKeyRequest,
  CreateSandboxRequest,
  CreateOrganizationRequest,
  OrganizationPath,
  OrganizationQuery,
  OrganizationSettingsRequest,
  SandboxPath,
  SandboxSettingsRequest,
} from '@airlock/contracts';
import type { z } from 'zod';
import { ApiError } from '../../services/api-error.js';
import type { AdminService } from '../../services/admin-service.js';
import type { AppEnv } from '../app-context.js';
import { validationError } from '../errors.js';
import { readJson } from '../middleware.js';

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

const organizationSlug = (context: Context<AppEnv>) =>
  parse(OrganizationQuery, { organization: context.req.query('organization') }).organization;
const sandboxName = (context: Context<AppEnv>) => parse(SandboxPath, { name: context.req.param('name') }).name;

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

  routes.get('/admin/v1/organizations', async (context) => {
    return context.json({ organizations: await admin.listOrganizations() });
  });

  routes.post('/admin/v1/organizations', async (context) => {
    return context.json(await admin.createOrganization(parse(CreateOrganizationRequest, await readJson(context.req.raw))), 201);
  });

  routes.patch('/admin/v1/organizations/:slug', async (context) => {
    const { slug } = parse(OrganizationPath, { slug: context.req.param('slug') });
    return context.json(await admin.updateOrganization(slug, parse(OrganizationSettingsRequest, await readJson(context.req.raw))));
  });

  routes.delete('/admin/v1/organizations/:slug', async (context) => {
    await admin.deleteOrganization(parse(OrganizationPath, { slug: context.req.param('slug') }).slug);
    return context.body(null, 204);
  });

  routes.get('/admin/v1/api-keys', async (context) => {
    return context.json({ api_keys: await admin.listKeys(organizationSlug(context)) });
  });

  routes.post('/admin/v1/api-keys', async (context) => {
    const request = parse(CreateApiKeyRequest, await readJson(context.req.raw));
    return context.json(await admin.createKey(request), 201);
  });

  routes.delete('/admin/v1/api-keys/:id', async (context) => {
    await admin.revokeKey(parse(ApiKeyPath, { id: context.req.param('id') }).id, organizationSlug(context));
    return context.body(null, 204);
  });

  routes.post('/admin/v1/api-keys/:id/rotate', async (context) => {
    return context.json(await admin.rotateKey(parse(ApiKeyPath, { id: context.req.param('id') }).id, organizationSlug(context)));
  });

  routes.get('/admin/v1/sandboxes', async (context) => {
    return context.json({ sandboxes: await admin.listSandboxes(organizationSlug(context)) });
  });

  routes.post('/admin/v1/sandboxes', async (context) => {
    const { name, organization, ...settings } = parse(CreateSandboxRequest, await readJson(context.req.raw));
    return context.json(await admin.createSandbox(name, settings, organization), 201);
  });

  routes.patch('/admin/v1/sandboxes/:name', async (context) => {
    const settings = parse(SandboxSettingsRequest, await readJson(context.req.raw));
    return context.json(await admin.updateSandbox(sandboxName(context), settings, organizationSlug(context)));
  });

  routes.delete('/admin/v1/sandboxes/:name', async (context) => {
    await admin.deleteSandbox(sandboxName(context), organizationSlug(context));
    return context.body(null, 204);
  });

  routes.get('/admin/v1/sandboxes/:name/webhook-secret', async (context) => {
    return context.json(await admin.webhookSecret(sandboxName(context), { rotate: false, organization: organizationSlug(context) }));
  });

  routes.post('/admin/v1/sandboxes/:name/webhook-secret/rotate', async (context) => {
    return context.json(await admin.webhookSecret(sandboxName(context), { rotate: true, organization: organizationSlug(context) }));
  });

  return routes;
}
