import { describe, expect, it } from 'vitest';
import { Airlock } from './client.js';
import { DEFAULT_BASE_URL, environmentVariable, resolveConfiguration, type FetchFunction } from './configuration.js';
import { AirlockConfigurationError } from './errors.js';

const environment = (variables: Record<string, string>) => (name: string) => variables[name];
const none = environment({});

describe('configuration', () => {
  it('takes the option first, then the environment variable, then the default', () => {
    expect(resolveConfiguration({ apiKey: 'sk-option' }, environment({ AIRLOCK_API_KEY: 'sk-env' })).apiKey).toBe('sk-option');
    expect(resolveConfiguration({}, environment({ AIRLOCK_API_KEY: 'sk-env' })).apiKey).toBe('sk-env');
    const url = environment({ AIRLOCK_API_KEY: 'sk-env', AIRLOCK_URL: 'https://airlock.example.com' });
    expect(resolveConfiguration({ baseUrl: 'http://127.0.0.1:9000' }, url).baseUrl).toBe('http://127.0.0.1:9000');
    expect(resolveConfiguration({}, url).baseUrl).toBe('https://airlock.example.com');
    const defaults = resolveConfiguration({ apiKey: 'sk-x' }, none);
    expect(defaults).toMatchObject({ baseUrl: DEFAULT_BASE_URL, timeoutMs: 60_000, maxRetries: 2, maxRetryDelayMs: 60_000, headers: {} });
  });

  it('keeps a path prefix of the base URL and drops its trailing slashes', () => {
    expect(resolveConfiguration({ apiKey: 'sk-x', baseUrl: 'https://tools.example.com/airlock//' }, none).baseUrl).toBe(
      'https://tools.example.com/airlock',
    );
    expect(resolveConfiguration({ apiKey: 'sk-x', baseUrl: 'http://localhost:8080/' }, none).baseUrl).toBe('http://localhost:8080');
  });

  it('without an API key fails at construction, saying how to give one', () => {
    for (const variables of [{}, { AIRLOCK_API_KEY: '  ' }] as Array<Record<string, string>>) {
      expect(() => resolveConfiguration({}, environment(variables))).toThrow(AirlockConfigurationError);
    }
    expect(() => resolveConfiguration({}, none)).toThrow(/pass new Airlock\(\{ apiKey: "sk-\.\.\." \}\) or set the AIRLOCK_API_KEY/);
  });

  it('the client checks its configuration when it is made, before any request', () => {
    let requests = 0;
    const fetch: FetchFunction = async () => {
      requests++;
      return new Response('{}');
    };
    expect(() => new Airlock({ apiKey: '', fetch })).toThrow(AirlockConfigurationError);
    expect(() => new Airlock({ apiKey: 'sk-x', baseUrl: 'nope', fetch })).toThrow(AirlockConfigurationError);
    expect(requests).toBe(0);
    expect(new Airlock({ apiKey: 'sk-x', baseUrl: 'http://127.0.0.1:9/', fetch }).baseUrl).toBe('http://127.0.0.1:9');
  });

  it('a base URL that cannot work names where it came from', () => {
    expect(() => resolveConfiguration({ apiKey: 'sk-x', baseUrl: 'localhost:8080' }, none)).toThrow(/baseUrl option .*http/);
    expect(() => resolveConfiguration({ apiKey: 'sk-x' }, environment({ AIRLOCK_URL: 'not a url' }))).toThrow(
      /AIRLOCK_URL environment variable is "not a url", not a URL/,
    );
    expect(() => resolveConfiguration({ apiKey: 'sk-x', baseUrl: 'ftp://host' }, none)).toThrow(AirlockConfigurationError);
    expect(() => resolveConfiguration({ apiKey: 'sk-x', baseUrl: 'http://host/?a=1' }, none)).toThrow(/query/);
  });

  it('checks the numbers', () => {
    expect(() => resolveConfiguration({ apiKey: 'sk-x', timeoutMs: 0 }, none)).toThrow(/timeoutMs must be a positive number/);
    expect(() => resolveConfiguration({ apiKey: 'sk-x', maxRetries: -1 }, none)).toThrow(/maxRetries must be a whole number/);
    expect(() => resolveConfiguration({ apiKey: 'sk-x', maxRetries: 1.5 }, none)).toThrow(AirlockConfigurationError);
  });

  it('uses the fetch it is given', async () => {
    const calls: string[] = [];
    const fetch: FetchFunction = async (url) => {
      calls.push(url);
      return new Response('{}');
    };
    await resolveConfiguration({ apiKey: 'sk-x', fetch }, none).fetch('http://127.0.0.1:1/x', {});
    expect(calls).toEqual(['http://127.0.0.1:1/x']);
  });
});

describe('environment variables', () => {
  it('are read from process.env or Deno.env, and are undefined where neither exists or access is refused', () => {
    expect(environmentVariable('AIRLOCK_URL', { process: { env: { AIRLOCK_URL: 'http://a' } } })).toBe('http://a');
    expect(environmentVariable('AIRLOCK_URL', { Deno: { env: { get: (name: string) => (name === 'AIRLOCK_URL' ? 'http://d' : undefined) } } })).toBe(
      'http://d',
    );
    expect(environmentVariable('AIRLOCK_URL', {})).toBeUndefined();
    expect(environmentVariable('AIRLOCK_URL', { process: {} })).toBeUndefined();
    const refusing = { Deno: { env: { get: () => { throw new Error('PermissionDenied: Requires env access'); } } } };
    expect(environmentVariable('AIRLOCK_URL', refusing)).toBeUndefined();
    expect(environmentVariable('AIRLOCK_URL', { process: { env: { AIRLOCK_URL: '' } } })).toBeUndefined();
  });
});
