import type { StorageAttachment } from '@airlock/db';
import { describe, expect, it } from 'vitest';
import { effectiveMounts } from './effective-mounts.js';

const created = new Date('2025-01-01T00:00:00Z');

function volume(mountName: string, readOnly = false): StorageAttachment {
  return {
    id: `att_${mountName}`,
    orgId: 'org_1',
    sandboxConfigId: 'sbx_1',
    mountName,
    readOnly,
    createdAt: created,
    target: { kind: 'volume', volumeId: `vol_${mountName}`, slug: mountName, quotaBytes: 1000, usedBytes: 10 },
  };
}

function connection(mountName: string, options: { readOnly?: boolean; connectionReadOnly?: boolean; prefix?: string } = {}): StorageAttachment {
  return {
    id: `att_${mountName}`,
    orgId: 'org_1',
    sandboxConfigId: 'sbx_1',
    mountName,
    readOnly: options.readOnly ?? false,
    createdAt: created,
    target: {
      kind: 'connection',
      connectionId: `stc_${mountName}`,
      readOnly: options.connectionReadOnly ?? false,
      prefix: options.prefix ?? '',
      syncMode: 'write_back',
    },
  };
}

describe('effectiveMounts', () => {
  it("without a key's narrowing: every attachment, with the connection's prefix as level 1", () => {
    expect(effectiveMounts([connection('company-data', { prefix: 'exports/daily' }), volume('scratch')], {})).toEqual([
      {
        mountName: 'company-data',
        attachmentId: 'att_company-data',
        kind: 'connection',
        connectionId: 'stc_company-data',
        syncMode: 'write_back',
        readOnly: false,
        connectionPrefix: 'exports/daily',
        keyPrefix: '',
      },
      {
        mountName: 'scratch',
        attachmentId: 'att_scratch',
        kind: 'volume',
        volumeId: 'vol_scratch',
        volumeSlug: 'scratch',
        quotaBytes: 1000,
        usedBytes: 10,
        readOnly: false,
        connectionPrefix: '',
        keyPrefix: '',
      },
    ]);
  });

  it('a key sets level 2 per mount, makes mounts read-only and drops detached ones', () => {
    const mounts = effectiveMounts([connection('company-data', { prefix: 'exports' }), volume('scratch'), volume('shared')], {
      'company-data': { prefix: 'tenants/a' },
      scratch: { read_only: true, prefix: 'a/b' },
      shared: { detached: true },
    });
    expect(mounts.map(({ mountName, readOnly, connectionPrefix, keyPrefix }) => ({ mountName, readOnly, connectionPrefix, keyPrefix }))).toEqual([
      { mountName: 'company-data', readOnly: false, connectionPrefix: 'exports', keyPrefix: 'tenants/a' },
      { mountName: 'scratch', readOnly: true, connectionPrefix: '', keyPrefix: 'a/b' },
    ]);
  });

  it('is read-only when the connection, the attachment or the key says so, whatever the others say', () => {
    const mounts = effectiveMounts(
      [
        connection('by-connection', { connectionReadOnly: true, readOnly: false }),
        connection('by-attachment', { readOnly: true }),
        volume('by-volume-attachment', true),
        connection('by-key'),
        connection('writable'),
      ],
      { 'by-connection': { read_only: false }, 'by-attachment': { read_only: false }, 'by-key': { read_only: true } },
    );
    expect(Object.fromEntries(mounts.map((mount) => [mount.mountName, mount.readOnly]))).toEqual({
      'by-connection': true,
      'by-attachment': true,
      'by-volume-attachment': true,
      'by-key': true,
      writable: false,
    });
  });

  it("ignores a key's entries for mounts the sandbox config does not attach, and names that are not its own", () => {
    const storage = JSON.parse('{"gone": {"prefix": "x"}, "__proto__": {"detached": true}}');
    expect(effectiveMounts([volume('scratch')], storage).map((mount) => mount.mountName)).toEqual(['scratch']);
    expect(effectiveMounts([volume('constructor')], {})).toMatchObject([{ mountName: 'constructor', readOnly: false, keyPrefix: '' }]);
    expect(effectiveMounts([], { scratch: { prefix: 'a' } })).toEqual([]);
  });
});
