import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Size of one classic-BPF instruction (struct sock_filter). */
const SOCK_FILTER_BYTES = 8;

/** The kernel's limit on instructions in one filter (BPF_MAXINSNS). */
const MAX_INSTRUCTIONS = 4096;

let cachedProgram: Buffer | undefined;

/**
 * Absolute path of the sandbox's seccomp BPF program written by
 * `npm run build:native`. This module runs from packages/runtime/src or
 * packages/runtime/dist; both sit next to packages/runtime/native.
 */
export function seccompProgramPath(): string {
  return fileURLToPath(new URL('../native/build/seccomp.bpf', import.meta.url));
}

/**
 * Absolute path of the fork template's seccomp BPF program: the sandbox's
 * policy plus the mounts and namespaces the template makes for its forks
 * (native/seccomp-profile.c, docs/decisions/0033-fork-tier.md).
 */
export function templateSeccompProgramPath(): string {
  return fileURLToPath(new URL('../native/build/seccomp-template.bpf', import.meta.url));
}

/**
 * The seccomp program as raw `struct sock_filter` bytes, the format that
 * `bwrap --seccomp FD` reads. Read from disk on the first call and cached.
 */
export function loadSeccompProgram(): Buffer {
  if (cachedProgram !== undefined) {
    return cachedProgram;
  }
  const path = seccompProgramPath();
  let program: Buffer;
  try {
    program = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`seccomp program not found at ${path}; run \`npm run build:native\` to build it`, {
        cause: error,
      });
    }
    throw new Error(`cannot read the seccomp program at ${path}`, { cause: error });
  }
  const instructions = program.length / SOCK_FILTER_BYTES;
  if (program.length === 0 || !Number.isInteger(instructions) || instructions > MAX_INSTRUCTIONS) {
    throw new Error(
      `seccomp program at ${path} is malformed (${program.length} bytes; expected a non-zero multiple of ` +
        `${SOCK_FILTER_BYTES} up to ${MAX_INSTRUCTIONS} instructions); run \`npm run build:native\` to rebuild it`,
    );
  }
  cachedProgram = program;
  return program;
}

/** Absolute path of the sandbox spawner built by `npm run build:native` (native/sandbox-spawner.c). */
export function spawnerPath(): string {
  return fileURLToPath(new URL('../native/build/airlock-spawner', import.meta.url));
}

/**
 * Absolute path of the fork template's namespace maker built by `npm run build:native` (native/fork-namespaces.c,
 * docs/decisions/0033-fork-tier.md): static, as it runs in the image's root.
 */
export function forkNamespacesPath(): string {
  return fileURLToPath(new URL('../native/build/airlock-fork-namespaces', import.meta.url));
}
