import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomToken } from './shared/secrets.js';

/** Where a server keeps what it makes in its data directory (AIRLOCK_DATA_DIR). */
export function dataDirectoryLayout(root: string) {
  return {
    root,
    /** The embedded PGlite database, without DATABASE_URL. */
    pglite: join(root, 'pglite'),
    /** The runtime's working state: its mounts and its lock. */
    run: join(root, 'run'),
    /** Thread layers cached on this node. */
    layers: join(root, 'layers'),
    /** Thread layers and files, without an S3 bucket. */
    blobs: join(root, 'blobs'),
    /** Uploads to the S3 bucket on their way. */
    blobSpool: join(root, 'blob-spool'),
    images: join(root, 'images'),
    /** Uploaded image archives waiting for their import. */
    imageUploads: join(root, 'image-uploads'),
    /** Managed volumes, on the local backend: `<organization id>/<volume id>`. */
    volumes: join(root, 'volumes'),
    /** Storage connections' rclone mounts, their control sockets and upload caches. */
    buckets: join(root, 'buckets'),
    nodeId: join(root, 'node-id'),
    adminToken: join(root, 'admin-token'),
    masterKey: join(root, 'master-key'),
    urlSigningKey: join(root, 'url-signing-key'),
  };
}

export type DataDirectoryLayout = ReturnType<typeof dataDirectoryLayout>;

/** The data directory of a starting server: created traversable, not listable (bubblewrap reaches images through it). */
export function prepareDataDirectory(root: string): DataDirectoryLayout {
  mkdirSync(root, { recursive: true, mode: 0o711 });
  chmodSync(root, 0o711);
  return dataDirectoryLayout(root);
}

/** The identity and keys a server keeps in its data directory, each made on first start. */
export function readOrCreateSecrets(layout: DataDirectoryLayout) {
  const hexKey = () => randomBytes(32).toString('hex');
  return {
    /** Stable per data directory, so a restarted node fails exactly the executions it was running. */
    nodeId: () => readOrCreateFile(layout.nodeId, () => `node_${randomToken(9)}`),
    adminToken: () => readOrCreateFile(layout.adminToken, () => `adm-${randomToken(32)}`),
    masterKey: () => Buffer.from(readOrCreateFile(layout.masterKey, hexKey), 'hex'),
    urlSigningKey: () => readOrCreateFile(layout.urlSigningKey, hexKey),
  };
}

/** A value kept in a file of the data directory (mode 0600), created on first use. */
function readOrCreateFile(path: string, create: () => string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    const value = create();
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return value;
  }
}
