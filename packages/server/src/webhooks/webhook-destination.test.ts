import { describe, expect, it } from 'vitest';
import { DestinationError, checkAddress, parseWebhookUrl, resolveDestination } from './webhook-destination.js';

const production = { allowLoopback: false };
const development = { allowLoopback: true };

describe('webhook destinations', () => {
  it.each([
    ['10.0.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.251', 'multicast'],
    ['192.0.2.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['::ffff:8.8.8.8', 'ipv4Mapped'],
    ['::ffff:127.0.0.1', 'ipv4Mapped'],
    ['64:ff9b::808:808', 'rfc6052'],
    ['64:ff9b:1::a00:1', 'rfc6052'],
    ['2002:a00:1::', '6to4'],
    ['2001:0:4136:e378::1', 'teredo'],
    ['ff02::1', 'multicast'],
  ])('refuses %s (%s)', (address, range) => {
    expect(() => checkAddress(address, production)).toThrow(`(${range} address)`);
  });

  it('allows public unicast addresses, and loopback only in development mode', () => {
    for (const address of ['8.8.8.8', '93.184.215.14', '2606:4700::1111']) expect(() => checkAddress(address, production)).not.toThrow();
    expect(() => checkAddress('127.0.0.1', development)).not.toThrow();
    expect(() => checkAddress('::1', development)).not.toThrow();
    expect(() => checkAddress('10.0.0.1', development)).toThrow(DestinationError);
    expect(() => checkAddress('::ffff:127.0.0.1', development)).toThrow(DestinationError);
  });

  it('checks the form of the URL', () => {
    expect(parseWebhookUrl('https://hooks.example/path?q=1', production).href).toBe('https://hooks.example/path?q=1');
    expect(parseWebhookUrl('http://127.0.0.1:9/hook', development).port).toBe('9');
    expect(parseWebhookUrl('http://localhost:9/hook', development).hostname).toBe('localhost');
    const problems: Array<[string, RegExp]> = [
      ['not a url', /absolute https/],
      ['http://hooks.example/', /https:\/\//],
      ['ftp://hooks.example/', /https:\/\//],
      ['https://user:secret@hooks.example/', /credentials/],
      [`https://hooks.example/${'a'.repeat(2048)}`, /2048/],
      ['https://2130706433/', /loopback/],
      ['https://0x7f.0.0.1/', /loopback/],
      ['https://[::ffff:7f00:1]/', /ipv4Mapped/],
    ];
    for (const [url, problem] of problems) expect(() => parseWebhookUrl(url, production)).toThrow(problem);
    expect(() => parseWebhookUrl('http://10.0.0.1/', development)).toThrow(/private/);
    expect(() => parseWebhookUrl('http://hooks.example/', development)).toThrow(/https/);
  });

  it('refuses a name if any address it resolves to is refused', async () => {
    const url = new URL('https://hooks.example/');
    const answers = (...addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    await expect(resolveDestination(url, production, answers('93.184.215.14', '2606:4700::1111'))).resolves.toHaveLength(2);
    await expect(resolveDestination(url, production, answers('93.184.215.14', '10.0.0.7'))).rejects.toThrow(/10\.0\.0\.7/);
    await expect(resolveDestination(url, production, answers())).rejects.toThrow(/does not resolve/);
    const failing = async () => {
      throw Object.assign(new Error('no such host'), { code: 'ENOTFOUND' });
    };
    await expect(resolveDestination(url, production, failing)).rejects.toThrow('host hooks.example does not resolve (ENOTFOUND)');
  });
});
