import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';
/** The Scalar API reference's standalone browser bundle, served from the installed package (no CDN). */
export const SCALAR_BUNDLE_PATH = `${DOCS_PATH}/scalar.js`;

/** Where `@scalar/api-reference` keeps its standalone bundle on disk. */
export function scalarBundleFile(): string {
  const entry = createRequire(import.meta.url).resolve('@scalar/api-reference');
  return join(dirname(entry), 'browser', 'standalone.js');
}
