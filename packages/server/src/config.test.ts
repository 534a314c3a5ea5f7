import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const load = (environment: Record<string, string>) => () => loadConfig({ dataDirectory: '/tmp/unused' }, environment);

describe('loadConfig', () => {
  it('AIRLOCK_BOOTSTRAP_API_KEY follows the rule of every API key', () => {
    const key = 'sk-local-abcdefghijklmnop';
    expect(load({ AIRLOCK_BOOTSTRAP_API_KEY: key })().bootstrapApiKey).toBe(key);
    for (const bad of [
      'sk-local-short',
      'sk-Local-abcdefghijklmnop',
      'sk-regionlongerthansixteen-abcdefghijklmnop',
      `sk-local-${'a'.repeat(129)}`,
      'sk-local-abcdefghijklmno!',
      'pk-local-abcdefghijklmnop',
    ]) {
      expect(load({ AIRLOCK_BOOTSTRAP_API_KEY: bad }), bad).toThrow(ConfigError);
    }
  });

  it('a bad secret is named with its rule, never echoed', () => {
    const secret = 'sk-local-not valid but secret';
    let message = '';
    try {
      load({ AIRLOCK_BOOTSTRAP_API_KEY: secret })();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      'AIRLOCK_BOOTSTRAP_API_KEY is invalid: an API key must look like sk-<region>-<secret>, where region is 1-16 ' +
        'lowercase letters or digits and secret is 16-128 letters, digits, "_" or "-"',
    );
    expect(() => load({ AIRLOCK_MASTER_KEY: 'not-hex-secret' })()).toThrow(/^AIRLOCK_MASTER_KEY is invalid: 64 hex digits/);
    expect(() => load({ AIRLOCK_MASTER_KEY: 'not-hex-secret' })()).not.toThrow(/not-hex-secret/);
  });

  it('a bad plain value is shown with its variable', () => {
    expect(load({ AIRLOCK_KEY_REGION: 'EU' })).toThrow('AIRLOCK_KEY_REGION="EU" is invalid: lowercase letters and digits, at most 16');
  });
});
