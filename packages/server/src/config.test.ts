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

  it('client limits: 10 s for headers, 30 s for a body, 128 connections per address unless configured; 0 lifts the cap', () => {
    expect(load({})().clients).toEqual({ headersTimeoutSeconds: 10, bodyTimeoutSeconds: 30, maxConnectionsPerAddress: 128 });
    expect(
      load({ AIRLOCK_HEADERS_TIMEOUT_SECONDS: '1', AIRLOCK_BODY_TIMEOUT_SECONDS: '2.5', AIRLOCK_MAX_CONNECTIONS_PER_ADDRESS: '0' })().clients,
    ).toEqual({ headersTimeoutSeconds: 1, bodyTimeoutSeconds: 2.5, maxConnectionsPerAddress: 0 });
    expect(load({ AIRLOCK_BODY_TIMEOUT_SECONDS: '0' })).toThrow(/^AIRLOCK_BODY_TIMEOUT_SECONDS="0" is invalid/);
    expect(load({ AIRLOCK_MAX_CONNECTIONS_PER_ADDRESS: '-1' })).toThrow(/^AIRLOCK_MAX_CONNECTIONS_PER_ADDRESS="-1" is invalid/);
  });

  it('network: on with 10.213, 200 Mbit/s per core and the host\'s resolvers unless configured; off turns it off', () => {
    expect(load({})().network).toEqual({ subnet: '10.213', megabitsPerCpu: 200, dnsUpstream: undefined });
    expect(load({ AIRLOCK_NETWORK: 'off' })().network).toBeUndefined();
    expect(
      load({ AIRLOCK_NETWORK_SUBNET: '10.99', AIRLOCK_NETWORK_MBIT_PER_CPU: '50', AIRLOCK_NETWORK_DNS: '198.51.100.53, 198.51.100.54:5353' })()
        .network,
    ).toEqual({ subnet: '10.99', megabitsPerCpu: 50, dnsUpstream: ['198.51.100.53', '198.51.100.54:5353'] });
    expect(load({ AIRLOCK_NETWORK_SUBNET: '10.213.0.0/16' })).toThrow(
      /^AIRLOCK_NETWORK_SUBNET="10.213.0.0\/16" is invalid: the first two octets of a \/16, such as 10.213/,
    );
    expect(load({ AIRLOCK_NETWORK_DNS: 'dns.example' })).toThrow(/^AIRLOCK_NETWORK_DNS="dns.example" is invalid/);
    expect(load({ AIRLOCK_NETWORK: 'yes' })).toThrow(/^AIRLOCK_NETWORK="yes" is invalid/);
  });

  it('fork preload: the runtime\'s default unless configured; none for none; module names only', () => {
    expect(load({})().forkPreload).toBeUndefined();
    expect(load({ AIRLOCK_FORK_PRELOAD: 'numpy, scipy.stats' })().forkPreload).toEqual(['numpy', 'scipy.stats']);
    expect(load({ AIRLOCK_FORK_PRELOAD: 'none' })().forkPreload).toEqual([]);
    expect(load({ AIRLOCK_FORK_PRELOAD: 'numpy;rm' })).toThrow(/^AIRLOCK_FORK_PRELOAD="numpy;rm" is invalid: python module names/);
  });
});
