/** One web search result, as every provider's answer is reduced to. */
export interface SearchResult {
  title: string;
  url: string;
  snippet: string;
}

/** A web search service the operator configured; its key (if any) is unsealed only to make the request. */
export interface SearchProvider {
  readonly name: string;
  search(query: string, count: number, signal: AbortSignal): Promise<SearchResult[]>;
}

/** A search the provider did not answer; the message says how, never with the provider's key. */
export class SearchFailed extends Error {
  override readonly name = 'SearchFailed';
}

export const SEARCH_PROVIDER_KINDS = ['searxng', 'brave', 'tavily'] as const;
export type SearchProviderKind = (typeof SEARCH_PROVIDER_KINDS)[number];

export interface SearchProviderSettings {
  kind: SearchProviderKind;
  /** The service's base URL: a SearXNG instance's; Brave's and Tavily's public API when absent. */
  endpoint?: string;
  apiKey?: string;
}

const DEFAULT_ENDPOINTS: Record<SearchProviderKind, string | undefined> = {
  searxng: undefined,
  brave: 'https://api.search.brave.com',
  tavily: 'https://api.tavily.com',
};

async function answer<T>(provider: string, response: Response): Promise<T> {
  if (!response.ok) throw new SearchFailed(`${provider} answered ${response.status} ${response.statusText}`);
  try {
    return (await response.json()) as T;
  } catch {
    throw new SearchFailed(`${provider} answered something that is not JSON`);
  }
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Results with a URL, at most `count`. */
function kept(results: SearchResult[], count: number): SearchResult[] {
  return results.filter((result) => /^https?:\/\//.test(result.url)).slice(0, count);
}

/** A SearXNG instance's JSON API (`format=json` must be enabled in its settings). */
function searxng(endpoint: string): SearchProvider {
  return {
    name: 'searxng',
    async search(query, count, signal) {
      const url = new URL('search', endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
      url.search = new URLSearchParams({ q: query, format: 'json' }).toString();
      const body = await answer<{ results?: { title?: unknown; url?: unknown; content?: unknown }[] }>(
        'searxng',
        await fetch(url, { signal, headers: { accept: 'application/json' } }),
      );
      return kept((body.results ?? []).map((entry) => ({ title: text(entry.title), url: text(entry.url), snippet: text(entry.content) })), count);
    },
  };
}

/** Brave Search's web search API, with its subscription token. */
function brave(endpoint: string, apiKey: string): SearchProvider {
  return {
    name: 'brave',
    async search(query, count, signal) {
      const url = new URL('/res/v1/web/search', endpoint);
      url.search = new URLSearchParams({ q: query, count: String(Math.min(count, 20)) }).toString();
      const body = await answer<{ web?: { results?: { title?: unknown; url?: unknown; description?: unknown }[] } }>(
        'brave',
        await fetch(url, { signal, headers: { accept: 'application/json', 'x-subscription-token': apiKey } }),
      );
      return kept((body.web?.results ?? []).map((entry) => ({ title: text(entry.title), url: text(entry.url), snippet: text(entry.description) })), count);
    },
  };
}

/** Tavily's search API, with its API key. */
function tavily(endpoint: string, apiKey: string): SearchProvider {
  return {
    name: 'tavily',
    async search(query, count, signal) {
      const body = await answer<{ results?: { title?: unknown; url?: unknown; content?: unknown }[] }>(
        'tavily',
        await fetch(new URL('/search', endpoint), {
          method: 'POST',
          signal,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
          body: JSON.stringify({ query, max_results: Math.min(count, 20) }),
        }),
      );
      return kept((body.results ?? []).map((entry) => ({ title: text(entry.title), url: text(entry.url), snippet: text(entry.content) })), count);
    },
  };
}

/** The provider the settings describe; a refusal names what is missing. */
export function searchProvider(settings: SearchProviderSettings): SearchProvider {
  const endpoint = settings.endpoint ?? DEFAULT_ENDPOINTS[settings.kind];
  if (endpoint === undefined) throw new SearchFailed(`a ${settings.kind} provider needs its endpoint (the instance's URL)`);
  if (settings.kind === 'searxng') return searxng(endpoint);
  if (settings.apiKey === undefined) throw new SearchFailed(`a ${settings.kind} provider needs its API key`);
  return settings.kind === 'brave' ? brave(endpoint, settings.apiKey) : tavily(endpoint, settings.apiKey);
}
