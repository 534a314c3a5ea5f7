/** The admin API as the console calls it: same origin, the session cookie, JSON, errors as ApiFailure. */

/** A refusal or failure the API answered, with its stable code and its sentence. */
export class ApiFailure extends Error {
  override readonly name = 'ApiFailure';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The refusal a response that is not ok carries, as an ApiFailure. */
export async function apiFailure(response: Response): Promise<ApiFailure> {
  const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
  return new ApiFailure(response.status, body.error ?? 'error', body.message ?? `${response.status} ${response.statusText}`);
}

/** Calls the API; the cookie goes along, and the browser sends this page's Origin with a change. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw await apiFailure(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const remove = <T>(path: string) => api<T>('DELETE', path);

/** A path with `?organization=<slug>`. */
export function inOrganization(path: string, organization: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}organization=${encodeURIComponent(organization)}`;
}
