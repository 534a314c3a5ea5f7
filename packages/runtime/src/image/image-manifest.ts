import type { SandboxLanguage } from '../sandbox/sandbox-types.js';

/** Where an image's root file system came from. */
export type ImageSource =
  /** Built by Airlock from a recipe (Debian packages, pinned wheels and Node build). */
  | { kind: 'recipe'; suite: string }
  /** Pulled from a registry: the reference asked for and the digest of the manifest pulled. */
  | { kind: 'registry'; reference: string; digest: string }
  /** Unpacked from an uploaded OCI layout or `docker save` archive. */
  | { kind: 'archive'; format: 'oci' | 'docker'; digest: string };

/** One language an image runs: the interpreter's absolute path inside the image and the version it reports. */
export interface ImageLanguage {
  interpreter: string;
  version: string;
}

/** A package worth naming to an operator or a model (the data stack, the client tools). */
export interface ImagePackage {
  name: string;
  version: string;
  ecosystem: 'debian' | 'python' | 'node';
  license?: string;
}

/** What an image is, written next to its root file system as image.json when the image is complete. */
export interface ImageManifest {
  name: string;
  /** A recipe's hash, or the first 12 hex digits of an imported image's manifest digest. */
  version: string;
  source: ImageSource;
  /** Go's names, as OCI uses them: amd64, arm64. */
  architecture: string;
  /** The C library the image's programs use ("glibc 2.41", "musl 1.2.5"), null when none was found. */
  libc: string | null;
  languages: Partial<Record<SandboxLanguage, ImageLanguage>>;
  packages: ImagePackage[];
  builtAt: string;
  sizeBytes: number;
}

/** The languages an image has, in a stable order. */
export function manifestLanguages(manifest: ImageManifest): SandboxLanguage[] {
  return (['python', 'node', 'bash'] as const).filter((language) => manifest.languages[language] !== undefined);
}

/** Where an image is imported from: a registry reference, or an OCI layout or `docker save` archive on disk. */
export type ImageImportSource =
  | {
      kind: 'registry';
      /** `registry/name:tag` or `registry/name@sha256:<digest>`. */
      reference: string;
      credentials?: { username: string; password: string };
      /** False for a registry served over plain HTTP or with a certificate that cannot be verified. */
      tlsVerify?: boolean;
    }
  | { kind: 'archive'; path: string };
