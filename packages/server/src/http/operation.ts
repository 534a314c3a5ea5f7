import { ErrorCode } from '@airlock/contracts';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import type { AppEnv } from './app-context.js';
import { validationError } from './errors.js';
import { ApiError } from '../shared/api-error.js';
import { errors } from './openapi/openapi-components.js';
import { readJson } from './middleware.js';
import { requestBody } from './whole-body.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** What an operation's handler gets: its JSON body, query and path parameters, parsed by the declared schemas. */
export interface OperationInput<Body, Query, Path> {
  body: Body;
  query: Query;
  params: Path;
}

/**
 * One HTTP operation, declared once: the route it is served on, the schemas that validate its input, and its entry in
 * the OpenAPI document (`document`, to which the schemas are added as its request body and parameters).
 */
export interface Operation {
  readonly method: Method;
  /** In OpenAPI's form: `/v1/executions/{traceId}`. */
  readonly path: string;
  readonly document: ZodOpenApiOperationObject;
  /** Runs before the handler, on this operation only (e.g. the admin token check). */
  readonly middleware: MiddlewareHandler<AppEnv>[];
  readonly handle: (context: Context<AppEnv>) => Response | Promise<Response>;
}

export function operation<Body = undefined, Query = undefined, Path = undefined>(declaration: {
  method: Method;
  path: string;
  /** A JSON body, validated by this schema (400 naming the field and the rule) and documented as the request body. */
  body?: z.ZodType<Body>;
  query?: z.ZodType<Query> & z.ZodObject;
  params?: z.ZodType<Path> & z.ZodObject;
  middleware?: MiddlewareHandler<AppEnv>[];
  document: ZodOpenApiOperationObject;
  handle: (context: Context<AppEnv>, input: OperationInput<Body, Query, Path>) => Response | Promise<Response>;
}): Operation {
  const { body, query, params, document } = declaration;
  const requestParams = {
    ...document.requestParams,
    ...(query ? { query } : {}),
    ...(params ? { path: params } : {}),
  };
  return {
    method: declaration.method,
    path: declaration.path,
    middleware: declaration.middleware ?? [],
    document: {
      ...document,
      ...(Object.keys(requestParams).length > 0 ? { requestParams } : {}),
      ...(body
        ? {
            requestBody: { required: true, content: { 'application/json': { schema: body } } },
            responses: { ...document.responses, ...errors(ErrorCode.requestTimeout, ErrorCode.unsupportedMediaType) },
          }
        : {}),
    },
    handle: async (context) => {
      if (body) requireJsonContentType(context.req.header('content-type'));
      const input = {
        body: (body ? parse(body, readJson(await requestBody(context))) : undefined) as Body,
        query: (query ? parse(query, context.req.query()) : undefined) as Query,
        params: (params ? parse(params, context.req.param()) : undefined) as Path,
      };
      return declaration.handle(context, input);
    },
  };
}

/** A JSON body must say so: `application/json` or a `+json` type, any parameters (charset) allowed. */
function requireJsonContentType(header: string | undefined): void {
  const mediaType = (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) return;
  throw new ApiError(
    ErrorCode.unsupportedMediaType,
    `Content-Type must be application/json (got ${header ? JSON.stringify(header) : 'none'}); send the body as JSON with that header`,
  );
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** Serves each operation on `app`. */
export function serveOperations(app: Hono<AppEnv>, operations: Operation[]): void {
  for (const operation of operations) {
    const path = operation.path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
    app.on([operation.method.toUpperCase()], [path], ...operation.middleware, operation.handle);
  }
}

/** The OpenAPI paths of the operations. */
export function openApiPaths(operations: Operation[]): ZodOpenApiPathsObject {
  const paths: ZodOpenApiPathsObject = {};
  for (const operation of operations) paths[operation.path] = { ...paths[operation.path], [operation.method]: operation.document };
  return paths;
}
