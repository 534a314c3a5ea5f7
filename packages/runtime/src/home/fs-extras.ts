import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** native/fs-extras.c: the overlayfs marks, file capabilities and named pipes Node.js has no calls for. */
interface FsExtras {
  /** Whether overlayfs marked the directory opaque (trusted.overlay.opaque = y). */
  isOpaque(path: string): boolean;
  setOpaque(path: string): void;
  /** Creates an overlayfs whiteout (a 0:0 character device) at `path`. */
  makeWhiteout(path: string): void;
  /** Creates a named pipe at `path` that only its owner may open (mode 0600, less the umask). */
  makeFifo(path: string): void;
  /** Removes a file's capabilities (the security.capability attribute, not following a link); whether it had any. */
  dropCapabilities(path: string): boolean;
}

let loaded: FsExtras | undefined;

/** Absolute path of the addon built by `npm run build:native`. */
export function fsExtrasPath(): string {
  return fileURLToPath(new URL('../../native/build/fs-extras.node', import.meta.url));
}

export function fsExtras(): FsExtras {
  loaded ??= createRequire(import.meta.url)(fsExtrasPath()) as FsExtras;
  return loaded;
}
