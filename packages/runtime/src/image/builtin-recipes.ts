import { readFileSync } from 'node:fs';
import type { ImageRecipe, NodeRelease } from './image-recipe.js';

/** Files of packages/runtime/images/: the pins scripts/lock-image-packages.sh writes, and the web tools. */
function pinnedFile(path: string): string {
  return readFileSync(new URL(`../../images/${path}`, import.meta.url), 'utf8');
}

const NODE_RELEASE = JSON.parse(pinnedFile('node-release.json')) as NodeRelease;

/** What every image needs to be a sandbox root. */
export const SANDBOX_HOOKS = [
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
];

/** Node.js's official build (with its start-up snapshot) as /usr/local/bin/node, npm laid out as Node's tarballs do. */
const NODE_HOOKS = [
  'tar -xzf "$1/../downloads/node.tgz" --no-same-owner --strip-components=1 -C "$1/usr/local" package/bin/node',
  'mkdir -p "$1/usr/local/share/doc/node"',
  'tar -xzOf "$1/../downloads/node.tgz" package/LICENSE > "$1/usr/local/share/doc/node/LICENSE"',
  'mkdir -p "$1/usr/local/lib/node_modules/npm"',
  'tar -xzf "$1/../downloads/npm.tgz" --no-same-owner --strip-components=1 -C "$1/usr/local/lib/node_modules/npm"',
  'ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"',
  'ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"',
];

/**
 * The pinned wheels into the system's site-packages (/usr/local/lib/python3.X/dist-packages), nothing else: pip runs
 * with an empty environment (no PIP_* variable of the host's reaches it). Debian's own Python packages (pip's
 * dependencies) stay in /usr/lib/python3; the pinned ones come first on sys.path.
 */
const PYTHON_WHEEL_HOOKS = [
  'mkdir "$1/tmp/airlock-wheels"',
  'cp "$1/../downloads/python-requirements.txt" "$1/../downloads"/wheels/*.whl "$1/tmp/airlock-wheels/"',
  'chroot "$1" /usr/bin/env -i PATH=/usr/bin:/bin python3 -m pip install --quiet --no-deps --require-hashes --only-binary=:all: --no-index' +
    ' --find-links /tmp/airlock-wheels --ignore-installed --no-cache-dir --break-system-packages' +
    ' --root-user-action=ignore --disable-pip-version-check --no-warn-script-location -r /tmp/airlock-wheels/python-requirements.txt',
  'rm -rf "$1/tmp/airlock-wheels"',
  // The packages' own test suites (numpy.test(), scipy.test()): 150 MB that no import reaches.
  'find "$1"/usr/local/lib/python3*/dist-packages -type d -name tests -prune -exec rm -rf {} +',
];

/** Matplotlib draws with Agg (a sandbox has no display) without probing GUI toolkits first. */
const MATPLOTLIB_HOOKS = [
  'echo "backend: Agg" >> "$(echo "$1"/usr/local/lib/python3*/dist-packages/matplotlib/mpl-data/matplotlibrc)"',
];

/** A hook that writes `content` at `path` in the root with `mode`: the content is part of the recipe, so of its version. */
function fileHook(path: string, content: string, mode: string): string {
  return `mkdir -p "$1${path.slice(0, path.lastIndexOf('/'))}" && printf %s '${Buffer.from(content).toString('base64')}' | base64 -d > "$1${path}" && chmod ${mode} "$1${path}"`;
}

/**
 * The web tools (README, "Web tools"): `web-fetch` and `web-search`, the Python module `airlock_web` (Debian's
 * python3 has /usr/lib/python3/dist-packages on its path) and the Node.js module `airlock-web` (in Node's global
 * folder, $PREFIX/lib/node, which `require` searches). They talk to the web gateway the server binds into sandboxes.
 */
const WEB_TOOL_HOOKS = [
  fileHook('/usr/lib/python3/dist-packages/airlock_web.py', pinnedFile('web-tools/airlock_web.py'), '0644'),
  fileHook('/usr/local/bin/web-fetch', pinnedFile('web-tools/web-fetch'), '0755'),
  fileHook('/usr/local/bin/web-search', pinnedFile('web-tools/web-search'), '0755'),
  fileHook('/usr/local/lib/node/airlock-web.js', pinnedFile('web-tools/airlock-web.cjs'), '0644'),
];

const INTERPRETERS = { python: '/usr/bin/python3', node: '/usr/local/bin/node', bash: '/bin/bash' };

/**
 * Debian 13 with Python 3.13, Node.js 24 and npm, the data stack and the connectors' database and cloud drivers from
 * pinned PyPI wheels, and the command-line clients of the databases and of GitHub that connectors reach.
 */
export const DEFAULT_IMAGE_RECIPE: ImageRecipe = {
  name: 'default',
  suite: 'trixie',
  packages: [
    'bash',
    'coreutils',
    'procps',
    'python3',
    'python3-pip',
    'python3-venv',
    // pip builds source packages with it (pip install --no-build-isolation without network); it provides distutils.
    'python3-setuptools',
    'curl',
    'ca-certificates',
    'git',
    'jq',
    'sqlite3',
    'postgresql-client',
    'mariadb-client',
    'redis-tools',
    // GitHub's CLI, for the github connector's GH_TOKEN (git reaches GitHub over HTTPS without SSH).
    'gh',
  ],
  downloads: { node: NODE_RELEASE, pythonRequirements: pinnedFile('default/python-requirements.txt') },
  customizeHooks: [...SANDBOX_HOOKS, ...NODE_HOOKS, ...PYTHON_WHEEL_HOOKS, ...MATPLOTLIB_HOOKS, ...WEB_TOOL_HOOKS],
  interpreters: INTERPRETERS,
};

/** Debian 13 with Python 3.13, Node.js 24 and bash only: a smaller root for code that needs no libraries. */
export const SLIM_IMAGE_RECIPE: ImageRecipe = {
  name: 'slim',
  suite: 'trixie',
  packages: ['bash', 'coreutils', 'python3', 'ca-certificates'],
  downloads: { node: NODE_RELEASE },
  customizeHooks: [...SANDBOX_HOOKS, ...NODE_HOOKS, ...WEB_TOOL_HOOKS],
  interpreters: INTERPRETERS,
};

export const BUILTIN_IMAGE_RECIPES: readonly ImageRecipe[] = [DEFAULT_IMAGE_RECIPE, SLIM_IMAGE_RECIPE];
