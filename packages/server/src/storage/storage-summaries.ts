import { DATA_ROOT, type AttachmentSummary, type StorageConnectionSummary, type VolumeSummary } from '@airlock/contracts';
import type { StorageAttachment, StorageConnection, Volume } from '@airlock/db';

/** Storage records as the admin API answers them: never a secret, only the hints of the stored ones. */

export function summarizeConnection(connection: StorageConnection): StorageConnectionSummary {
  const common = {
    id: connection.id,
    name: connection.name,
    mount_name: connection.mountName,
    prefix: connection.prefix,
    read_only: connection.readOnly,
    sync_mode: connection.syncMode,
    endpoint: connection.endpoint,
    credentials: connection.credentialHints,
    created_at: connection.createdAt.toISOString(),
    updated_at: connection.updatedAt.toISOString(),
  };
  switch (connection.provider) {
    case 's3':
      return {
        provider: 's3',
        ...common,
        bucket: connection.bucket ?? '',
        region: connection.region,
        path_style: connection.pathStyle,
        anonymous: connection.anonymous,
      };
    case 'gcs':
      return { provider: 'gcs', ...common, bucket: connection.bucket ?? '', anonymous: connection.anonymous };
    case 'azure':
      return { provider: 'azure', ...common, container: connection.container ?? '', account: connection.account };
  }
}

export function summarizeVolume(volume: Volume): VolumeSummary {
  return {
    id: volume.id,
    name: volume.name,
    slug: volume.slug,
    quota_bytes: volume.quotaBytes,
    used_bytes: volume.usedBytes,
    used_measured_at: volume.usedMeasuredAt?.toISOString() ?? null,
    created_at: volume.createdAt.toISOString(),
    updated_at: volume.updatedAt.toISOString(),
  };
}

export function summarizeAttachment(attachment: StorageAttachment): AttachmentSummary {
  const { target } = attachment;
  return {
    id: attachment.id,
    mount_name: attachment.mountName,
    path: `${DATA_ROOT}/${attachment.mountName}`,
    kind: target.kind,
    volume: target.kind === 'volume' ? target.slug : null,
    connection: target.kind === 'connection' ? target.connectionId : null,
    read_only: attachment.readOnly,
    created_at: attachment.createdAt.toISOString(),
  };
}
