import { ErrorCode } from '@airlock/contracts';
import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { ApiError } from '../shared/api-error.js';
import type { AppEnv } from './app-context.js';
import { adminSecurity, commonHeaders, commonRequestHeaders, errors } from './openapi/openapi-components.js';
import { operation, type Operation, type OperationInput } from './operation.js';

/** What an admin operation declares: its route, schemas, answer and the error codes it adds to every admin call's. */
export interface AdminOperationDeclaration<Body, Query, Path> {
  method: 'get' | 'post' | 'patch' | 'delete';
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
  codes: ErrorCode[];
  handle: (context: Context<AppEnv>, input: OperationInput<Body, Query, Path>) => Promise<Response>;
}

/** Declares an admin operation: the admin token, the Admin tag, and the errors every admin call can meet. */
export type DeclareAdminOperation = <Body = undefined, Query = undefined, Path = undefined>(
  declaration: AdminOperationDeclaration<Body, Query, Path>,
) => Operation;

/** Admin operations, authenticated by the admin token (never by sandbox API keys) as `isAdminToken` tells. */
export function adminDeclarer(isAdminToken: (token: string) => boolean): DeclareAdminOperation {
  const requireAdmin: MiddlewareHandler<AppEnv> = async (context, next) => {
    const token = /^Bearer\s+(\S+)$/i.exec(context.req.header('authorization') ?? '')?.[1];
    if (!token || !isAdminToken(token)) {
      throw ApiError.unauthorized('admin endpoints need Authorization: Bearer <admin token>');
    }
    await next();
  };
  return (declaration) => {
    const { status = 200, response, codes, operationId, summary, description, rawBody, ...route } = declaration;
    return operation({
      ...route,
      middleware: [requireAdmin],
      document: {
        operationId,
        summary,
        ...(description ? { description } : {}),
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
          ...errors(ErrorCode.unauthorized, ErrorCode.validationError, ErrorCode.notFound, ...codes),
        },
      },
    });
  };
}
