import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SandboxLanguage } from '../sandbox/sandbox-types.js';
import type { ImageLanguage, ImagePackage } from './image-manifest.js';
import type { ImageRecipe } from './image-recipe.js';

/** What a built image holds, read from the image itself. */
export interface ImageInventory {
  languages: Partial<Record<SandboxLanguage, ImageLanguage>>;
  libc: string | null;
  /** The recipe's Debian packages, the pinned Python distributions and npm, with versions and licences. */
  packages: ImagePackage[];
  /** Every installed Debian package as `name=version` lines, as apt-get install takes them. */
  debianPackages: string;
}

// Licence of each distribution in the system site-packages, from its metadata: License-Expression, else a one-line
// License field, else the licence classifiers.
const PYTHON_DISTRIBUTIONS = `
import glob, importlib.metadata, json
def licence(metadata):
    if metadata.get("License-Expression"):
        return metadata["License-Expression"]
    text = (metadata.get("License") or "").strip()
    if text and "\\n" not in text and len(text) <= 80:
        return text
    classifiers = [c.split(" :: ")[-1] for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]
    return " OR ".join(classifiers) or None
paths = glob.glob("/usr/local/lib/python3*/dist-packages")
print(json.dumps([
    {"name": d.metadata["Name"], "version": d.version, "license": licence(d.metadata)}
    for d in importlib.metadata.distributions(path=paths)
]))
`;

export async function readInventory(rootfs: string, recipe: ImageRecipe): Promise<ImageInventory> {
  const installed = parseDpkgList(await runInImage(rootfs, ['dpkg-query', '--show', '--showformat=${Package}=${Version}\\n']));
  const libcVersion = installed.get('libc6');
  const packages = [...debianPackages(recipe, installed)];
  if (recipe.downloads.pythonRequirements !== undefined) {
    packages.push(...(await pythonDistributions(rootfs, recipe.interpreters.python)));
  }
  if (recipe.downloads.node) packages.push(await npmPackage(rootfs));
  return {
    languages: await readLanguages(rootfs, recipe),
    libc: libcVersion ? `glibc ${libcVersion.replace(/-[^-]*$/, '')}` : null,
    packages,
    debianPackages: [...installed].map(([name, version]) => `${name}=${version}\n`).join(''),
  };
}

function parseDpkgList(output: string): Map<string, string> {
  const installed = new Map<string, string>();
  for (const line of output.split('\n')) {
    const separator = line.indexOf('=');
    if (separator > 0) installed.set(line.slice(0, separator), line.slice(separator + 1));
  }
  return installed;
}

/**
 * The recipe's packages with the versions installed. Debian names the current major of a metapackage's program
 * <name>-<major> or <name>.<minor> (postgresql-client-17, python3.13); those are listed too.
 */
function* debianPackages(recipe: ImageRecipe, installed: Map<string, string>): Generator<ImagePackage> {
  for (const name of recipe.packages) {
    const versioned = new RegExp(`^${name.replace(/[.+]/g, '\\$&')}[-.]?\\d[\\d.]*$`);
    for (const [candidate, version] of installed) {
      if (candidate === name || versioned.test(candidate)) yield { name: candidate, version, ecosystem: 'debian' };
    }
  }
}

async function pythonDistributions(rootfs: string, python: string): Promise<ImagePackage[]> {
  const distributions = JSON.parse(await runInImage(rootfs, [python, '-c', PYTHON_DISTRIBUTIONS])) as Array<{
    name: string;
    version: string;
    license: string | null;
  }>;
  return distributions
    .map(({ name, version, license }) => ({ name, version, ecosystem: 'python' as const, ...(license ? { license } : {}) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function npmPackage(rootfs: string): Promise<ImagePackage> {
  const manifest = JSON.parse(await fs.readFile(join(rootfs, 'usr/local/lib/node_modules/npm/package.json'), 'utf8')) as {
    version: string;
    license?: string;
  };
  return { name: 'npm', version: manifest.version, ecosystem: 'node', ...(manifest.license ? { license: manifest.license } : {}) };
}

async function readLanguages(rootfs: string, recipe: ImageRecipe): Promise<Partial<Record<SandboxLanguage, ImageLanguage>>> {
  const languages: Partial<Record<SandboxLanguage, ImageLanguage>> = {};
  for (const [language, interpreter] of Object.entries(recipe.interpreters) as Array<[SandboxLanguage, string]>) {
    const output = await runInImage(rootfs, [interpreter, '--version']);
    languages[language] = { interpreter, version: output.split('\n')[0]!.trim() };
  }
  return languages;
}

const BUILD_ENVIRONMENT = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

/** Runs a command inside the new root file system and answers its standard output. */
function runInImage(rootfs: string, argv: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn('chroot', [rootfs, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: BUILD_ENVIRONMENT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${argv[0]} failed in the new image (exit code ${code}): ${stderr || stdout}`)),
    );
  });
}
