import { createHash } from 'node:crypto';
import type { SandboxLanguage } from '../sandbox/sandbox-types.js';

/** How a runtime image is built from Debian packages; its hash is the image version. */
export interface ImageRecipe {
  name: string;
  suite: string;
  packages: string[];
  /** Shell commands run on the host with "$1" set to the new root file system. */
  customizeHooks: string[];
  interpreters: Record<SandboxLanguage, string>;
}

export const DEFAULT_IMAGE_RECIPE: ImageRecipe = {
  name: 'default',
  suite: 'bookworm',
  packages: [
    'bash',
    'coreutils',
    'procps',
    'python3',
    'python3-pip',
    'python3-venv',
    'nodejs',
    'npm',
    'curl',
    'ca-certificates',
    'git',
    'jq',
  ],
  customizeHooks: [
    'chroot "$1" useradd --uid 1000 --user-group --home-dir /home/sandbox --no-create-home --shell /bin/bash sandbox',
    // Mount points of the sandbox's zones; the root is read-only, so they must exist in the image.
    'mkdir -p "$1/home/sandbox" "$1/data" "$1/run"',
    // Baponi clients (its SDK's examples and deepagents backend) address the home as /home/baponi.
    'ln -s sandbox "$1/home/baponi"',
    // pip may install into the user's home; the image itself is read-only anyway.
    'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    'printf "127.0.0.1 localhost\\n::1 localhost ip6-localhost\\n127.0.1.1 sandbox\\n" > "$1/etc/hosts"',
    'echo sandbox > "$1/etc/hostname"',
    ': > "$1/etc/resolv.conf"',
  ],
  interpreters: { python: '/usr/bin/python3', node: '/usr/bin/node', bash: '/bin/bash' },
};

export function imageVersion(recipe: ImageRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 12);
}
