import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NodeSignature, keyFingerprints, keyMismatch } from './node-keys.js';

describe('node signatures', () => {
  const key = randomBytes(32);
  const signature = new NodeSignature(key);
  const now = Date.UTC(2026, 11, 6, 12);
  const path = '/internal/v1/executions/trc_1/cancel?organization_id=org_1';

  it('accept a call signed with the same master key within a minute, for that method and path only', () => {
    const header = signature.sign('POST', path, now);
    expect(new NodeSignature(key).verify(header, 'post', path, now + 59_000)).toBe(true);
    expect(signature.verify(header, 'POST', path, now - 59_000)).toBe(true);
    expect(signature.verify(header, 'POST', path, now + 61_000)).toBe(false);
    expect(signature.verify(header, 'GET', path, now)).toBe(false);
    expect(signature.verify(header, 'POST', path.replace('org_1', 'org_2'), now)).toBe(false);
    expect(signature.verify(header, 'POST', path.replace('trc_1', 'trc_2'), now)).toBe(false);
  });

  it('refuse other keys, altered and malformed headers', () => {
    const header = signature.sign('POST', path, now);
    expect(new NodeSignature(randomBytes(32)).verify(header, 'POST', path, now)).toBe(false);
    const flipped = header.slice(0, -1) + (header.endsWith('0') ? '1' : '0');
    expect(signature.verify(flipped, 'POST', path, now)).toBe(false);
    const later = header.replace(/^t=(\d+)/, (_, time: string) => `t=${Number(time) + 1}`);
    expect(signature.verify(later, 'POST', path, now)).toBe(false);
    for (const bad of [undefined, '', 'v1=00', `t=${Math.floor(now / 1000)},v1=zz`, `${header},extra`]) {
      expect(signature.verify(bad, 'POST', path, now)).toBe(false);
    }
  });
});

describe('node key fingerprints', () => {
  const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
  const urlKey = randomBytes(32);

  it('let nodes with a master key in common and the same URL key serve together, as during a rotation', () => {
    expect(keyMismatch(keyFingerprints([a], urlKey), keyFingerprints([a], urlKey))).toBeNull();
    expect(keyMismatch(keyFingerprints([b, a], urlKey), keyFingerprints([a], urlKey))).toBeNull();
  });

  it('refuse nodes sharing no master key or holding another URL key, naming the setting', () => {
    expect(keyMismatch(keyFingerprints([c], urlKey), keyFingerprints([b, a], urlKey))).toBe('AIRLOCK_MASTER_KEY shares no key');
    expect(keyMismatch(keyFingerprints([a], urlKey), keyFingerprints([a], randomBytes(32)))).toBe('AIRLOCK_URL_SIGNING_KEY differs');
  });

  it('reveal neither key', () => {
    const fingerprints = keyFingerprints([a], urlKey);
    expect(fingerprints.masterKeys[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprints.urlKey).not.toBe(fingerprints.masterKeys[0]);
    expect(JSON.stringify(fingerprints)).not.toContain(a.toString('hex').slice(0, 16));
  });
});
