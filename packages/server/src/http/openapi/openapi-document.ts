import { createRequire } from 'node:module';
import {
  CreateApiKeyRequest,
  CreateSandboxRequest,
  ExecuteRequest,
  FileDeleteRequest,
  FileDownloadUrlRequest,
  FileUploadUrlRequest,
  FilesListRequest,
  SandboxSettingsRequest,
  ThreadForkRequest,
} from '@airlock/contracts';
import { createDocument, type oas31, type ZodOpenApiPathsObject } from 'zod-openapi';
import { annotate } from './openapi-annotations.js';
import { securitySchemes } from './openapi-components.js';

export type OpenApiDocument = oas31.OpenAPIObject;

/** This server's version (packages/server/package.json; the same path from src/ and dist/). */
const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const description = `Airlock runs untrusted code for AI agents: one HTTP call in, one fresh isolated sandbox, stdout,
stderr and the exit code out. The API is compatible with Baponi's; Airlock adds fields and endpoints (marked
"Airlock extension").

**Errors** are \`{"error": "<code>", "message": "...", "request_id": "..."}\` with a stable \`error\` code, each code
always answered with the same HTTP status. Unknown fields in a request body are refused (400).

**Every answer** carries \`X-Request-Id\` (a well-formed incoming one is echoed). Answers to \`/v1\` requests carry the
\`RateLimit-Limit\`, \`RateLimit-Remaining\` and \`RateLimit-Reset\` fields; a 429 or 503 carries \`Retry-After\`.`;

/** The OpenAPI 3.1 document of the operations the app serves (`paths`), rendered from the zod schemas that validate them. */
export function createOpenApiDocument(paths: ZodOpenApiPathsObject): OpenApiDocument {
  return createDocument(
    {
      openapi: '3.1.0',
      info: { title: 'Airlock API', version, description },
      tags: [
        { name: 'Executions', description: 'Run code; read, replay and cancel executions.' },
        { name: 'Threads', description: 'Persistent homes (`thread_id`).' },
        { name: 'Files', description: "Files of a thread's home, through signed URLs." },
        { name: 'MCP', description: 'The Model Context Protocol endpoint.' },
        { name: 'Admin', description: 'Instance administration with the admin token.' },
        { name: 'Service', description: 'Health, metrics and this documentation.' },
        { name: 'Nodes', description: 'Calls between the server nodes of one deployment, signed with their shared key.' },
      ],
      paths,
      components: {
        securitySchemes,
        schemas: {
          ExecuteRequest,
          FilesListRequest,
          FileUploadUrlRequest,
          FileDownloadUrlRequest,
          FileDeleteRequest,
          ThreadForkRequest,
          CreateApiKeyRequest,
          CreateSandboxRequest,
          SandboxSettingsRequest,
        },
      },
    },
    { override: annotate },
  );
}
