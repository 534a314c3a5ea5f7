import {
  AttachConnectorRequest,
  ConnectorChangesRequest,
  ConnectorListResponse,
  ConnectorPath,
  ConnectorSummary,
  ConnectorTestResponse,
  CreateConnectorRequest,
  ErrorCode,
  OrganizationQuery,
  SandboxConnectorPath,
  SandboxPath,
} from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { ConnectorService } from './connector-service.js';

const BODY_ERRORS = [ErrorCode.payloadTooLarge];

/** Connectors and their attachments to sandbox configs, authenticated by the admin token. */
export function connectorOperations(connectors: ConnectorService, declare: DeclareAdminOperation): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/connectors',
      operationId: 'adminListConnectors',
      audit: { action: 'connector.list', target: 'connector' },
      summary: "List an organization's connectors",
      query: OrganizationQuery,
      response: ConnectorListResponse,
      codes: [],
      handle: async (context, { query }) => context.json({ connectors: await connectors.list(query.organization) }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/connectors',
      operationId: 'adminCreateConnector',
      audit: { action: 'connector.create', target: 'connector' },
      summary: 'Create a connector: credentials injected into the calls of the sandbox configs that attach it',
      description:
        'The secret settings are sealed with the master key and never returned: answers show `secrets`, a hint of each. ' +
        'Secrets are at least 8 characters (shorter ones could not be redacted from output). 409 when the name is taken.',
      query: OrganizationQuery,
      body: CreateConnectorRequest,
      status: 201,
      response: ConnectorSummary,
      codes: [...BODY_ERRORS, ErrorCode.conflict],
      handle: async (context, { query, body, audit }) => {
        const created = await connectors.create(body, query.organization);
        audit.describe({ targetId: created.name, after: created });
        return context.json(created, 201);
      },
    }),
    declare({
      method: 'get',
      path: '/admin/v1/connectors/{connector}',
      operationId: 'adminGetConnector',
      audit: { action: 'connector.read', target: 'connector' },
      summary: 'Read a connector',
      query: OrganizationQuery,
      params: ConnectorPath,
      response: ConnectorSummary,
      codes: [],
      handle: async (context, { query, params }) => context.json(await connectors.get(params.connector, query.organization)),
    }),
    declare({
      method: 'patch',
      path: '/admin/v1/connectors/{connector}',
      operationId: 'adminUpdateConnector',
      audit: { action: 'connector.update', target: 'connector' },
      summary: "Change a connector's settings",
      description: "Only the settings sent change; a secret left out is kept, null removes an optional setting. The name and type never change. The connector is untested again.",
      query: OrganizationQuery,
      params: ConnectorPath,
      body: ConnectorChangesRequest,
      response: ConnectorSummary,
      codes: BODY_ERRORS,
      handle: async (context, { query, params, body, audit }) => {
        const before = await connectors.get(params.connector, query.organization);
        const after = await connectors.update(params.connector, body, query.organization);
        audit.describe({ before, after });
        return context.json(after);
      },
    }),
    declare({
      method: 'post',
      path: '/admin/v1/connectors/{connector}/test',
      operationId: 'adminTestConnector',
      audit: { action: 'connector.test', target: 'connector' },
      summary: 'Test a connector from a sandbox, as calls use it',
      description:
        'Runs a probe in a sandbox of the default image whose network reaches only the connector\'s endpoints, with the ' +
        "connector injected as in a call: `select 1` through psql or the MariaDB client, `PING` through redis-cli, a ping " +
        'through pymongo, a listing through boto3, google-cloud-storage or azure-storage-blob, a `select 1` job through ' +
        "google-cloud-bigquery, GET /user on GitHub's API, a request to an HTTP API's base URL (its key is not checked). " +
        'Failures are answers (status failed, with what the probe saw, secrets redacted; on a server that runs sandboxes ' +
        'without network, saying so); the result is kept on the connector.',
      query: OrganizationQuery,
      params: ConnectorPath,
      response: ConnectorTestResponse,
      codes: [],
      handle: async (context, { query, params }) => context.json(await connectors.test(params.connector, query.organization)),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/connectors/{connector}',
      operationId: 'adminDeleteConnector',
      audit: { action: 'connector.delete', target: 'connector' },
      summary: 'Delete a connector and its sealed secrets',
      description: 'Refused (409, naming the sandbox configs) while a sandbox config attaches it; detach it there first.',
      query: OrganizationQuery,
      params: ConnectorPath,
      status: 204,
      codes: [ErrorCode.conflict],
      handle: async (context, { query, params }) => {
        await connectors.delete(params.connector, query.organization);
        return context.body(null, 204);
      },
    }),
    declare({
      method: 'get',
      path: '/admin/v1/sandboxes/{name}/connectors',
      operationId: 'adminListSandboxConnectors',
      audit: { action: 'sandbox.connector.list', target: 'sandbox' },
      summary: "List the connectors a sandbox config's calls get",
      query: OrganizationQuery,
      params: SandboxPath,
      response: ConnectorListResponse,
      codes: [],
      handle: async (context, { query, params }) => context.json({ connectors: await connectors.listAttached(params.name, query.organization) }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/sandboxes/{name}/connectors',
      operationId: 'adminAttachConnector',
      audit: { action: 'sandbox.connector.attach', target: 'sandbox' },
      summary: 'Attach a connector to a sandbox config',
      description:
        "Every call of the sandbox config then gets the connector (API keys may drop it), and reaches its endpoints even with a blocked network. Attaching again changes nothing. Answers the config's connectors.",
      query: OrganizationQuery,
      params: SandboxPath,
      body: AttachConnectorRequest,
      response: ConnectorListResponse,
      codes: BODY_ERRORS,
      handle: async (context, { query, params, body }) =>
        context.json({ connectors: await connectors.attach(params.name, body.connector, query.organization) }),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/sandboxes/{name}/connectors/{connector}',
      operationId: 'adminDetachConnector',
      audit: { action: 'sandbox.connector.detach', target: 'sandbox' },
      summary: 'Detach a connector from a sandbox config',
      query: OrganizationQuery,
      params: SandboxConnectorPath,
      status: 204,
      codes: [],
      handle: async (context, { query, params }) => {
        await connectors.detach(params.name, params.connector, query.organization);
        return context.body(null, 204);
      },
    }),
  ];
}
