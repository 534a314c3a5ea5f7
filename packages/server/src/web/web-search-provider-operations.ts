import { ErrorCode, OrganizationQuery, WebSearchProviderRequest, WebSearchProviderSummary } from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { WebSearchProviderService } from './web-search-provider-service.js';

const PATH = '/admin/v1/web/search-provider';

/** The organization's search provider for web-search, authenticated by the admin API's credentials. */
export function webSearchProviderOperations(providers: WebSearchProviderService, declare: DeclareAdminOperation): Operation[] {
  return [
    declare({
      method: 'get',
      path: PATH,
      operationId: 'adminGetWebSearchProvider',
      audit: { action: 'web_search_provider.read', target: 'web_search_provider' },
      summary: "Read the organization's web search provider",
      description: 'The key shows only as a hint (****abcd). 404 when the organization has none (web-search then fails, saying so).',
      query: OrganizationQuery,
      response: WebSearchProviderSummary,
      codes: [],
      handle: async (context, { query }) => context.json(await providers.get(query.organization)),
    }),
    declare({
      method: 'put',
      path: PATH,
      operationId: 'adminSetWebSearchProvider',
      audit: { action: 'web_search_provider.set', target: 'web_search_provider' },
      summary: "Set the organization's web search provider, replacing the one it had",
      description:
        'searxng: a SearXNG instance at `endpoint` whose JSON API is enabled; brave (Brave Search API) and tavily (Tavily): ' +
        'their `api_key`, with their public API unless `endpoint` names another. The key is sealed with the master key and ' +
        'never returned; the audit entry records only that it changed.',
      query: OrganizationQuery,
      body: WebSearchProviderRequest,
      response: WebSearchProviderSummary,
      codes: [ErrorCode.payloadTooLarge],
      handle: async (context, { query, body, audit }) => {
        const before = await providers.find(query.organization);
        const after = await providers.put(body, query.organization);
        audit.describe({
          targetId: after.kind,
          before: before ?? undefined,
          after,
          ...(body.api_key !== undefined && { extra: { api_key: 'changed' } }),
        });
        return context.json(after);
      },
    }),
    declare({
      method: 'delete',
      path: PATH,
      operationId: 'adminDeleteWebSearchProvider',
      audit: { action: 'web_search_provider.delete', target: 'web_search_provider' },
      summary: "Remove the organization's web search provider and its sealed key",
      description: 'web-search fails afterwards, saying the organization has no provider; web-fetch is unaffected. 404 when it has none.',
      query: OrganizationQuery,
      status: 204,
      codes: [],
      handle: async (context, { query, audit }) => {
        const before = await providers.get(query.organization);
        await providers.delete(query.organization);
        audit.describe({ targetId: before.kind, before });
        return context.body(null, 204);
      },
    }),
  ];
}
