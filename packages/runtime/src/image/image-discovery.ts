import { constants, promises as fs } from 'node:fs';
import { posix } from 'node:path';
import type { SandboxLanguage } from '../sandbox/sandbox-types.js';
import type { ImageLanguage } from './image-manifest.js';
import { resolveInImage } from './image-paths.js';

/** A short program of one language, run by its interpreter in a sandbox. */
export interface ProbeProgram {
  language: SandboxLanguage;
  /** Absolute path inside the image. */
  interpreter: string;
  code: string;
}

/** A probe's standard output, or why it did not run to a successful end. */
export type ProbeResult = { ok: true; stdout: string } | { ok: false; reason: string };

/**
 * Runs programs in sandboxes on a root file system that is not loaded as an image yet: as the sandbox user, with
 * seccomp, without network and with a time limit, through the language's entry point as calls run it. Never on the
 * host: an imported image's programs are as untrusted as the code sandboxes run.
 */
export interface ImageProbe {
  run(rootfs: string, programs: readonly ProbeProgram[]): Promise<ProbeResult[]>;
}

/** The names each language's interpreter goes by, in order of preference. */
const INTERPRETER_NAMES: Record<SandboxLanguage, string[]> = {
  python: ['python3'],
  node: ['node', 'nodejs'],
  bash: ['bash'],
};
/** Searched after the image's own PATH. */
const USUAL_DIRECTORIES = ['/usr/local/bin', '/usr/bin', '/bin'];
/** Programs printing what `<interpreter> --version` prints first, and what that must look like. */
const VERSION_PROBES: Record<SandboxLanguage, { code: string; expected: RegExp }> = {
  python: { code: 'import platform; print("Python " + platform.python_version())', expected: /^Python \d+\.\d+/ },
  node: { code: 'console.log(process.version)', expected: /^v\d+\.\d+/ },
  bash: { code: 'echo "GNU bash, version $BASH_VERSION ($MACHTYPE)"', expected: /^GNU bash, version \d/ },
};
const MAX_VERSION_LENGTH = 200;

/**
 * Each language's interpreter: the first executable file named for it in the image's PATH directories, then the
 * usual ones, looked up inside the image (links resolved there, never on the host). The path answered is absolute
 * inside the image, as found.
 */
export async function findInterpreters(rootfs: string, searchPath: readonly string[]): Promise<Partial<Record<SandboxLanguage, string>>> {
  const directories = [...new Set([...searchPath, ...USUAL_DIRECTORIES].map((directory) => posix.normalize(directory)))];
  const interpreters: Partial<Record<SandboxLanguage, string>> = {};
  for (const [language, names] of Object.entries(INTERPRETER_NAMES) as Array<[SandboxLanguage, string[]]>) {
    search: for (const name of names) {
      for (const directory of directories) {
        const candidate = posix.join(directory, name);
        const entry = await resolveInImage(rootfs, candidate);
        if (entry?.stats.isFile() && (entry.stats.mode & 0o111) !== 0) {
          interpreters[language] = candidate;
          break search;
        }
      }
    }
  }
  return interpreters;
}

/**
 * Runs each interpreter's version probe in a sandbox on the image; a language whose probe fails is left out, with
 * the reason told to `onProgress`.
 */
export async function probeLanguages(
  rootfs: string,
  interpreters: Partial<Record<SandboxLanguage, string>>,
  probe: ImageProbe,
  onProgress: (line: string) => void,
): Promise<Partial<Record<SandboxLanguage, ImageLanguage>>> {
  const programs = (Object.entries(interpreters) as Array<[SandboxLanguage, string]>).map(([language, interpreter]) => ({
    language,
    interpreter,
    code: VERSION_PROBES[language].code,
  }));
  const results = await probe.run(rootfs, programs);
  const languages: Partial<Record<SandboxLanguage, ImageLanguage>> = {};
  programs.forEach(({ language, interpreter }, index) => {
    const result = results[index]!;
    const version = result.ok ? printable(result.stdout.trim().split('\n')[0] ?? '') : '';
    if (result.ok && VERSION_PROBES[language].expected.test(version)) {
      languages[language] = { interpreter, version };
      onProgress(`found ${language}: ${interpreter} (${version})`);
    } else {
      const reason = result.ok ? `it printed "${version}" for its version` : result.reason;
      onProgress(`${language}: ${interpreter} does not run Airlock's ${language} entry point, left out: ${reason}`);
    }
  });
  return languages;
}

/** The first line of a probe's output, as plain text of bounded length. */
function printable(line: string): string {
  return line.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_VERSION_LENGTH);
}

/** Where glibc's libc.so.6 is, by Debian's multiarch triplet or the other distributions' directories. */
const MULTIARCH_TRIPLETS: Record<string, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const MUSL_ARCHITECTURES: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64' };
/** glibc's banner, in libc.so.6: "GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36." */
const GLIBC_BANNER = /GNU C Library[^\n\0]{0,200}? version (\d+\.\d+(?:\.\d+)?)/;
/** libc.so.6 is a few megabytes; its banner is within them. */
const MAX_LIBRARY_BYTES = 32 << 20;

/**
 * The C library of an image from its files, without running anything: glibc's version from the banner in libc.so.6,
 * or musl (with the version Alpine's package database records). Null when neither is found (a static or a
 * distroless image without libc).
 */
export async function detectLibc(rootfs: string, architecture: string): Promise<string | null> {
  const triplet = MULTIARCH_TRIPLETS[architecture];
  const glibcPaths = [
    ...(triplet ? [`/lib/${triplet}/libc.so.6`, `/usr/lib/${triplet}/libc.so.6`] : []),
    '/lib64/libc.so.6',
    '/usr/lib64/libc.so.6',
    '/lib/libc.so.6',
    '/usr/lib/libc.so.6',
  ];
  for (const path of glibcPaths) {
    const entry = await resolveInImage(rootfs, path);
    if (!entry?.stats.isFile()) continue;
    const banner = GLIBC_BANNER.exec((await readBounded(entry.hostPath, MAX_LIBRARY_BYTES)).toString('latin1'));
    const fromName = /^libc-(\d+\.\d+)\.so$/.exec(posix.basename(entry.imagePath));
    const version = banner?.[1] ?? fromName?.[1];
    return version ? `glibc ${version}` : 'glibc';
  }
  const musl = MUSL_ARCHITECTURES[architecture];
  if (musl && (await resolveInImage(rootfs, `/lib/ld-musl-${musl}.so.1`))?.stats.isFile()) {
    const database = await resolveInImage(rootfs, '/lib/apk/db/installed');
    const packages = database?.stats.isFile() ? (await readBounded(database.hostPath, MAX_LIBRARY_BYTES)).toString('utf8') : '';
    const version = /^P:musl\nV:(\d+\.\d+\.\d+)/m.exec(packages)?.[1];
    return version ? `musl ${version}` : 'musl';
  }
  return null;
}

/** Up to `limit` bytes of a regular file, opened without following a link. */
async function readBounded(path: string, limit: number): Promise<Buffer> {
  const file = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = await file.stat();
    if (!stats.isFile()) return Buffer.alloc(0);
    const buffer = Buffer.alloc(Math.min(stats.size, limit));
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
