import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { HealthResponse, ReadinessResponse } from '@airlock/contracts';
import { Scalar } from '@scalar/hono-api-reference';
import type { ZodOpenApiOperationObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import type { ServerMetrics } from '../shared/metrics.js';
import { DOCS_PATH, OPENAPI_PATH, SCALAR_BUNDLE_PATH, scalarBundleFile } from './openapi/docs-assets.js';
import { commonHeaders, commonRequestHeaders } from './openapi/openapi-components.js';
import type { OpenApiDocument } from './openapi/openapi-document.js';
import { operation, type Operation } from './operation.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

const text = (contentType: string) => ({ [contentType]: { schema: { type: 'string' } } }) as const;

/** A public GET of the service (health, metrics, this documentation): no credential, the Service tag. */
const serviceDocument = (
  operationId: string,
  summary: string,
  responses: ZodOpenApiResponsesObject,
  description?: string,
): ZodOpenApiOperationObject => ({
  operationId,
  tags: ['Service'],
  summary,
  ...(description ? { description } : {}),
  security: [],
  requestParams: { header: commonRequestHeaders },
  responses,
});

/** Health, readiness and metrics, the OpenAPI document and its docs page; public, no tenant data. */
export function serviceOperations(options: {
  readiness: ReadinessCheck[];
  metrics: ServerMetrics;
  /** The document of every operation the app serves, made on first use. */
  document: () => OpenApiDocument;
}): Operation[] {
  const bundle = scalarBundleFile();
  const docsPage = Scalar({
    url: OPENAPI_PATH,
    pageTitle: 'Airlock API',
    // The bundle comes from the installed package: the page works offline and sends nothing anywhere.
    cdn: SCALAR_BUNDLE_PATH,
    withDefaultFonts: false,
    telemetry: false,
    agent: { disabled: true },
    mcp: { disabled: true },
    showDeveloperTools: 'never',
  });
  return [
    operation({
      method: 'get',
      path: '/healthz',
      document: serviceDocument('health', 'Liveness: the process is up', {
        200: { description: 'Up.', headers: commonHeaders, content: { 'application/json': { schema: HealthResponse } } },
      }),
      handle: (context) => context.json({ status: 'ok' }),
    }),
    operation({
      method: 'get',
      path: '/readyz',
      document: serviceDocument('readiness', 'Readiness: database, images and pools ready', {
        200: { description: 'Ready.', headers: commonHeaders, content: { 'application/json': { schema: ReadinessResponse } } },
        503: { description: 'A dependency is not ready.', headers: commonHeaders, content: { 'application/json': { schema: ReadinessResponse } } },
      }),
      handle: async (context) => {
        const results = await Promise.all(
          options.readiness.map(async ({ name, check }) => [name, await check().catch(() => false)] as const),
        );
        const ready = results.every(([, ok]) => ok);
        return context.json({ status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) }, ready ? 200 : 503);
      },
    }),
    operation({
      method: 'get',
      path: '/metrics',
      document: serviceDocument(
        'metrics',
        'Prometheus metrics',
        { 200: { description: 'The Prometheus text format.', headers: commonHeaders, content: text('text/plain') } },
        'Executions, overhead, warm pool and process metrics; no tenant data.',
      ),
      handle: async (context) =>
        context.body(await options.metrics.registry.metrics(), 200, { 'Content-Type': options.metrics.registry.contentType }),
    }),
    operation({
      method: 'get',
      path: OPENAPI_PATH,
      document: serviceDocument('openapi', 'This OpenAPI document', {
        200: { description: 'OpenAPI 3.1.', headers: commonHeaders, content: { 'application/json': { schema: { type: 'object' } } } },
      }),
      handle: (context) => context.json(options.document()),
    }),
    operation({
      method: 'get',
      path: DOCS_PATH,
      document: serviceDocument('docs', 'The API reference for people', {
        200: { description: 'An HTML page rendering this document.', headers: commonHeaders, content: text('text/html') },
      }),
      // Scalar's page is a Hono handler typed for a plain environment.
      handle: (context) => docsPage(context as unknown as Parameters<typeof docsPage>[0], async () => undefined) as Promise<Response>,
    }),
    operation({
      method: 'get',
      path: SCALAR_BUNDLE_PATH,
      document: serviceDocument('docsScript', 'The script of the docs page', {
        200: { description: 'JavaScript.', headers: commonHeaders, content: text('text/javascript') },
      }),
      handle: (context) =>
        context.body(Readable.toWeb(createReadStream(bundle)) as ReadableStream, 200, {
          'Content-Type': 'text/javascript; charset=utf-8',
          'Cache-Control': 'public, max-age=3600',
        }),
    }),
  ];
}
