import type { ImageRecipe } from '@airlock/runtime';

/**
 * The default image's recipe before Debian 13 (docs/decisions/0025-default-image.md): Debian 12 with Python 3.11 and
 * Debian's Node.js 18, which has no V8 start-up snapshot, and the sandbox hooks every image has. For benchmarks that
 * compare the two; named debian12 and built into a directory of the benchmark's own, never a server's.
 */
export const DEBIAN12_RECIPE: ImageRecipe = {
  name: 'debian12',
  suite: 'bookworm',
  packages: ['bash', 'coreutils', 'procps', 'python3', 'python3-pip', 'python3-venv', 'nodejs', 'npm', 'curl', 'ca-certificates', 'git', 'jq'],
  downloads: {},
  // The sandbox hooks as they were, which are still packages/runtime/src/image/builtin-recipes.ts's SANDBOX_HOOKS: a
  // change there that sandboxes need belongs here too (and makes a new version of this image).
  customizeHooks: [
    'chroot "$1" useradd --uid 1000 --user-group --home-dir /home/sandbox --no-create-home --shell /bin/bash sandbox',
    'mkdir -p "$1/home/sandbox" "$1/data" "$1/run"',
    'ln -s sandbox "$1/home/baponi"',
    'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    'printf "127.0.0.1 localhost\\n::1 localhost ip6-localhost\\n127.0.1.1 sandbox\\n" > "$1/etc/hosts"',
    'echo sandbox > "$1/etc/hostname"',
    ': > "$1/etc/resolv.conf"',
  ],
  interpreters: { python: '/usr/bin/python3', node: '/usr/bin/node', bash: '/bin/bash' },
};
