import { CommandError } from './run-command.js';

/** @default AIRLOCK_URL environment variable, then http://127.0.0.1:8080 */
export function serverUrl(): string {
  return (process.env.AIRLOCK_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
}

export async function requestJson<T>(options: { url: string; method: string; token: string; body?: unknown }): Promise<T> {
  let response: Response;
  try {
    response = await fetch(options.url, {
      method: options.method,
      headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (error) {
    throw new CommandError(`cannot reach ${options.url}: ${(error as Error).cause ?? (error as Error).message}; is "airlock serve" running?`);
  }
  const text = await response.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const message = (body as { message?: string } | undefined)?.message ?? response.statusText;
    throw new CommandError(`server answered ${response.status}: ${message}`);
  }
  return body as T;
}
