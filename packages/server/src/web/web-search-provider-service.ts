import type { WebSearchProviderRequest, WebSearchProviderSummary } from '@airlock/contracts';
import type { Organization, WebSearchProvider, WebSearchProviderRepository } from '@airlock/db';
import { ApiError } from '../shared/api-error.js';
import type { SecretBox } from '../shared/secret-box.js';
import type { SearchProviderSettings } from './search-providers.js';

export interface WebSearchProviderServiceOptions {
  /** Finds the organization a slug names (the default one when absent); 404 when there is none. */
  tenants: { organization(slug?: string): Promise<Organization> };
  providers: WebSearchProviderRepository;
  /** Seals the providers' keys at rest (the deployment's master keys). */
  box: SecretBox;
}

/** Each organization's search provider for web-search: set by its admins, its key sealed and shown only as a hint. */
export class WebSearchProviderService {
  readonly #options: WebSearchProviderServiceOptions;

  constructor(options: WebSearchProviderServiceOptions) {
    this.#options = options;
  }

  /** The organization's provider; null when it has none. */
  async find(organizationSlug?: string): Promise<WebSearchProviderSummary | null> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const provider = await this.#options.providers.get(organization.id);
    return provider === null ? null : summarize(provider);
  }

  /** The organization's provider; 404 when it has none. */
  async get(organizationSlug?: string): Promise<WebSearchProviderSummary> {
    const found = await this.find(organizationSlug);
    if (found === null) throw noProvider(organizationSlug);
    return found;
  }

  /** Sets the organization's provider, replacing the one it had (and its key). */
  async put(request: WebSearchProviderRequest, organizationSlug?: string): Promise<WebSearchProviderSummary> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    const apiKey = request.api_key;
    const stored = await this.#options.providers.put({
      orgId: organization.id,
      kind: request.kind,
      endpoint: request.endpoint ?? null,
      sealedApiKey: apiKey === undefined ? null : this.#options.box.seal(apiKey, apiKeyContext(organization.id)),
      apiKeyHint: apiKey === undefined ? null : hint(apiKey),
    });
    return summarize(stored);
  }

  /** Removes the organization's provider and its sealed key; 404 when it has none. */
  async delete(organizationSlug?: string): Promise<void> {
    const organization = await this.#options.tenants.organization(organizationSlug);
    if (!(await this.#options.providers.delete(organization.id))) throw noProvider(organizationSlug);
  }

  /** The organization's provider with its key opened, for the web gateway's searches; null when it has none. */
  async searchProviderSettings(orgId: string): Promise<SearchProviderSettings | null> {
    const provider = await this.#options.providers.get(orgId);
    if (provider === null) return null;
    return {
      kind: provider.kind,
      ...(provider.endpoint !== null && { endpoint: provider.endpoint }),
      ...(provider.sealedApiKey !== null && { apiKey: this.#options.box.open(provider.sealedApiKey, apiKeyContext(orgId)) }),
    };
  }
}

function summarize(provider: WebSearchProvider): WebSearchProviderSummary {
  return {
    kind: provider.kind,
    endpoint: provider.endpoint,
    api_key: provider.apiKeyHint,
    updated_at: provider.updatedAt.toISOString(),
  };
}

/** What answers show of a key: its last four characters when it is long enough that they give little away. */
function hint(apiKey: string): string {
  return apiKey.length >= 16 ? `****${apiKey.slice(-4)}` : '****';
}

function noProvider(organizationSlug = 'default'): ApiError {
  return ApiError.notFound(`organization "${organizationSlug}" has no web search provider; set one with PUT /admin/v1/web/search-provider`);
}

/** The authenticated context of an organization's sealed search key: a value copied to another row does not open. */
function apiKeyContext(orgId: string): string {
  return `web_search_providers.api_key:${orgId}`;
}
