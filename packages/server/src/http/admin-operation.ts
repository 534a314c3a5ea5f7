import { ERROR_STATUS, ErrorCode } from '@airlock/contracts';
import type { NewAuditEntry } from '@airlock/db';
import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { AuditNote, auditChanges } from '../audit/audit-note.js';
import { requestSource } from '../auth/admin-authentication.js';
import { anyRoleAllows, authorize, describeRoles, type AdminPrincipal, type AdminRole } from '../auth/admin-principal.js';
import { ApiError } from '../shared/api-error.js';
import type { Logger } from '../shared/logger.js';
import type { AppEnv } from './app-context.js';
import { adminSecurity, commonHeaders, commonRequestHeaders, errors } from './openapi/openapi-components.js';
import { operation, type Operation, type OperationInput } from './operation.js';

/** How an admin operation appears in the audit log. */
export interface AdminAudit {
  /** `target.verb`: `sandbox.update`, `api_key.revoke`. */
  action: string;
  /** The kind of thing acted on: `sandbox`, `api_key`. */
  target: string;
  /** Record every call, not only refused ones (a read that reveals a secret, an export). Changes always are. */
  always?: boolean;
}

/** What an admin handler gets besides its input: who calls, and the note its audit entry is made from. */
export interface AdminInput<Body, Query, Path> extends OperationInput<Body, Query, Path> {
  principal: AdminPrincipal;
  audit: AuditNote;
}

/** What an admin operation declares: its route, schemas, answer, role, audit action and the error codes it adds. */
export interface AdminOperationDeclaration<Body, Query, Path> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  body?: z.ZodType<Body>;
  /** A body the handler reads itself (an upload), documented with these media types. */
  rawBody?: Record<string, { schema: Record<string, unknown> }>;
  query?: z.ZodType<Query> & z.ZodObject;
  params?: z.ZodType<Path> & z.ZodObject;
  status?: 200 | 201 | 202 | 204;
  response?: z.ZodType;
  /** The least role that may call it: reads `viewer`, changes `admin` unless said otherwise; `signed_in`: any caller (its own things). */
  role?: AdminRole | 'signed_in';
  audit: AdminAudit;
  codes: ErrorCode[];
  handle: (context: Context<AppEnv>, input: AdminInput<Body, Query, Path>) => Promise<Response>;
}

/** Declares an admin operation: authentication, role, audit entry, the Admin tag, and the errors every admin call can meet. */
export type DeclareAdminOperation = <Body = undefined, Query = undefined, Path = undefined>(
  declaration: AdminOperationDeclaration<Body, Query, Path>,
) => Operation;

/** What admin operations need from the server: who a request is, which organization a slug names, the audit log. */
export interface AdminGate {
  /**
   * The caller of a request (admin token or console session); null when it has no valid credential. Throws an ApiError
   * to refuse the request outright (a session's state-changing request from another origin).
   */
  authenticate(context: Context<AppEnv>): Promise<AdminPrincipal | null>;
  /** The id of the live organization with this slug, or null. */
  organizationId(slug: string): Promise<string | null>;
  record(entry: NewAuditEntry): Promise<unknown>;
  /** Called once a change succeeded, before it is answered: the other server nodes forget what they cached. */
  changed?: () => Promise<void>;
  logger: Logger;
}

/**
 * Admin operations, authenticated by an admin token or a console session (never by sandbox API keys), checked
 * against the caller's role, each change (and each refused call) recorded as one audit entry.
 */
export function adminDeclarer(gate: AdminGate): DeclareAdminOperation {
  return (declaration) => {
    const { status = 200, response, codes, operationId, summary, description, rawBody, audit, role, handle, ...route } = declaration;
    const needed = role ?? (route.method === 'get' ? 'viewer' : 'admin');
    const source = organizationSource(declaration);
    return operation({
      ...route,
      middleware: [guard(gate, { method: route.method, needed, audit, organizationFrom: source })],
      document: {
        operationId,
        summary,
        description: [description, needed === 'signed_in' ? 'Any signed-in caller.' : `Needs the ${needed} role.`].filter(Boolean).join(' '),
        tags: ['Admin'],
        security: adminSecurity,
        requestParams: { header: commonRequestHeaders },
        ...(rawBody ? { requestBody: { required: true, content: rawBody } } : {}),
        responses: {
          [status]: {
            description: 'Done.',
            headers: commonHeaders,
            ...(response ? { content: { 'application/json': { schema: response } } } : {}),
          },
          ...errors(ErrorCode.unauthorized, ErrorCode.forbidden, ErrorCode.validationError, ErrorCode.notFound, ...codes),
        },
      },
      handle: async (context, input) => {
        const note = context.get('auditNote');
        const principal = context.get('adminPrincipal');
        const named = (input.body as { organization?: unknown } | undefined)?.organization;
        if (typeof named === 'string') note.organizationSlug = named;
        if (typeof input.body === 'object' && input.body !== null) note.body = input.body;
        const slug = organizationSlug(context, note, source);
        const organization = slug === undefined ? null : { id: await gate.organizationId(slug), slug };
        if (organization?.id) note.organizationId ??= organization.id;
        try {
          if (needed !== 'signed_in') authorize(principal, { action: audit.action, needed, organization });
        } catch (error) {
          note.denied = true;
          throw error;
        }
        const response = await handle(context, { ...input, principal, audit: note });
        if (route.method !== 'get' && response.status < 400) await gate.changed?.();
        return response;
      },
    });
  };
}

/** Where a request names the organization it acts within: its path (`/organizations/{slug}`), `?organization=` (the default one when absent), or nowhere. */
type OrganizationSource = 'path' | 'query' | 'none';

function organizationSource(declaration: { query?: z.ZodObject; path: string }): OrganizationSource {
  if (declaration.path.startsWith('/admin/v1/organizations/{slug}')) return 'path';
  return declaration.query?.shape.organization !== undefined ? 'query' : 'none';
}

function organizationSlug(context: Context<AppEnv>, note: AuditNote, source: OrganizationSource): string | undefined {
  if (note.organizationSlug !== undefined) return note.organizationSlug;
  if (source === 'path') return context.req.param('slug');
  return source === 'query' ? (context.req.query('organization') ?? 'default') : undefined;
}

/**
 * Authenticates an admin request (401 without a credential, 403 when the caller's role allows the operation nowhere),
 * runs it, and records its audit entry: for every change and every refusal, and reads that ask for it.
 */
function guard(
  gate: AdminGate,
  operation: { method: string; needed: AdminRole | 'signed_in'; audit: AdminAudit; organizationFrom: OrganizationSource },
): MiddlewareHandler<AppEnv> {
  return async (context, next) => {
    const note = new AuditNote();
    context.set('auditNote', note);
    let principal: AdminPrincipal | null = null;
    let refusal: ApiError | undefined;
    try {
      principal = await gate.authenticate(context);
      if (!principal) refusal = ApiError.unauthorized('admin endpoints need Authorization: Bearer <admin token>, or a console session');
      // Before the input is read: a role that allows this nowhere is refused whatever the request says.
      else if (operation.needed !== 'signed_in' && !anyRoleAllows(principal, operation.needed)) {
        refusal = ApiError.forbidden(`${operation.audit.action} needs the ${operation.needed} role; ${principal.actor} has ${describeRoles(principal)}`);
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      refusal = error;
    }
    if (principal && !refusal) {
      context.set('adminPrincipal', principal);
      await next();
    }
    const statusCode = refusal ? ERROR_STATUS[refusal.code] : context.res.status;
    if (refusal !== undefined || note.denied || operation.method !== 'get' || operation.audit.always === true || note.record) {
      await recordEntry(gate, context, {
        principal,
        audit: operation.audit,
        note,
        organizationFrom: operation.organizationFrom,
        statusCode,
        error: refusal ?? context.error,
      }).catch((error: unknown) => gate.logger.error('audit entry not recorded', { action: operation.audit.action, error: String(error) }));
    }
    if (refusal) throw refusal;
  };
}

/** Path parameters that name an operation's target, in the order they are looked for. */
const TARGET_PARAMETERS = ['name', 'id', 'connector', 'user_id', 'slug', 'trace_id'];

async function recordEntry(
  gate: AdminGate,
  context: Context<AppEnv>,
  call: {
    principal: AdminPrincipal | null;
    audit: AdminAudit;
    note: AuditNote;
    organizationFrom: OrganizationSource;
    statusCode: number;
    error: Error | undefined;
  },
): Promise<void> {
  const { principal, audit, note, statusCode } = call;
  const outcome = note.denied || statusCode === 401 || statusCode === 403 ? 'denied' : statusCode >= 400 ? 'failure' : 'success';
  // A caller without credentials does not get to write into an organization's chain.
  const slug = principal === null ? undefined : organizationSlug(context, note, call.organizationFrom);
  const orgId = note.organizationId ?? (slug === undefined ? null : await gate.organizationId(slug));
  await gate.record({
    orgId,
    actor: principal?.actor ?? 'anonymous',
    authMethod: principal?.authMethod ?? 'none',
    action: audit.action,
    targetType: audit.target,
    targetId: note.targetId ?? TARGET_PARAMETERS.map((name) => context.req.param(name)).find((value) => value !== undefined) ?? null,
    outcome,
    reason: outcome === 'success' ? null : call.error instanceof ApiError ? call.error.message : `HTTP ${statusCode}`,
    changes: note.changes ?? (note.body === undefined ? null : auditChanges(undefined, note.body)),
    ...requestSource(context),
  });
}
