import type { KeyStorage, SyncMode } from '@airlock/contracts';
import type { StorageAttachment } from '@airlock/db';

/**
 * One mount of an execution: what its sandbox config attaches at /data/<mountName>, as its API key narrows it. The
 * directory the sandbox sees is `keyPrefix` inside `connectionPrefix` inside the bucket or volume (then the request's
 * sub_paths narrow it further); each level is a relative path, "" for none.
 */
export type EffectiveMount = {
  mountName: string;
  attachmentId: string;
  /** Read-only when the connection, the attachment or the key says so. */
  readOnly: boolean;
  /** Level 1: the connection's prefix inside its bucket; "" for volumes. */
  connectionPrefix: string;
  /** Level 2: the key's prefix inside the mount; "" when the key sets none. */
  keyPrefix: string;
} & (
  | {
      kind: 'volume';
      volumeId: string;
      volumeSlug: string;
      /** The volume's quota (null: none) and its bytes as last measured when the attachments were read. */
      quotaBytes: number | null;
      usedBytes: number | null;
    }
  | { kind: 'connection'; connectionId: string; syncMode: SyncMode });

/**
 * The mounts of a call: the sandbox config's attachments, without those the key detaches, each with the key's prefix
 * and read-only setting. Key entries for mounts the config no longer attaches are ignored.
 */
export function effectiveMounts(attachments: readonly StorageAttachment[], keyStorage: KeyStorage): EffectiveMount[] {
  const mounts: EffectiveMount[] = [];
  for (const attachment of attachments) {
    const scope = Object.hasOwn(keyStorage, attachment.mountName) ? keyStorage[attachment.mountName] : undefined;
    if (scope?.detached) continue;
    const { target } = attachment;
    const common = {
      mountName: attachment.mountName,
      attachmentId: attachment.id,
      readOnly: attachment.readOnly || scope?.read_only === true || (target.kind === 'connection' && target.readOnly),
      keyPrefix: scope?.prefix ?? '',
    };
    mounts.push(
      target.kind === 'volume'
        ? {
            ...common,
            connectionPrefix: '',
            kind: 'volume',
            volumeId: target.volumeId,
            volumeSlug: target.slug,
            quotaBytes: target.quotaBytes,
            usedBytes: target.usedBytes,
          }
        : { ...common, connectionPrefix: target.prefix, kind: 'connection', connectionId: target.connectionId, syncMode: target.syncMode },
    );
  }
  return mounts;
}
