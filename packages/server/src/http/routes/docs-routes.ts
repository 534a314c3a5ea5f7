import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import type { AppEnv } from '../app-context.js';
import { DOCS_PATH, OPENAPI_PATH, SCALAR_BUNDLE_PATH, scalarBundleFile } from '../openapi/docs-assets.js';
import { createOpenApiDocument, type OpenApiDocument } from '../openapi/openapi-document.js';

/** The OpenAPI document and the docs page rendering it; public, like the health checks. */
export function docsRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  let document: OpenApiDocument | undefined;
  routes.get(OPENAPI_PATH, (context) => context.json((document ??= createOpenApiDocument())));
  routes.get(
    DOCS_PATH,
    Scalar({
      url: OPENAPI_PATH,
      pageTitle: 'Airlock API',
      // The bundle comes from the installed package: the page works offline and sends nothing anywhere.
      cdn: SCALAR_BUNDLE_PATH,
      withDefaultFonts: false,
      telemetry: false,
      agent: { disabled: true },
      mcp: { disabled: true },
      showDeveloperTools: 'never',
    }),
  );
  const bundle = scalarBundleFile();
  routes.get(SCALAR_BUNDLE_PATH, (context) =>
    context.body(Readable.toWeb(createReadStream(bundle)) as ReadableStream, 200, {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'public, max-age=3600',
    }),
  );
  return routes;
}
