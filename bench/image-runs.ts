import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Language } from '@airlock/contracts';
import type { Image, ImageImportSource, PoolKey, PreparedSandbox, SandboxRuntime } from '@airlock/runtime';
import { SEQUENTIAL_PAUSE_MS, pauseUntilWarm } from './pool-probe.js';
import { DEFAULT_LIMITS } from './runtime-runs.js';
import { readIdleSlots, summarizeSlots, type SlotMemorySummary } from './slot-memory.js';

/** How a call gets its sandbox: taken from the warm pool, or started for it (prepare) with the pool left out. */
export type SandboxStart = 'warm' | 'cold';

/** One sequential call through the runtime API, without a server. */
export interface CallSample {
  /** From taking (warm) or starting (cold) the sandbox to the stub reporting that the code starts. */
  overheadMs: number;
  /** From the same moment to the outcome: the code has run, the sandbox's processes have exited, its output is read. */
  wallMs: number;
  /** Whether the sandbox came from the pool. */
  warm: boolean;
  stdout: string;
}

type Counts = { warmup: number; iterations: number };

/** Time for sandboxes destroyed after their call to exit before slots are read. */
const TEARDOWN_MS = 500;

function poolKey(image: string, language: Language): PoolKey {
  return { image, language, limits: DEFAULT_LIMITS };
}

async function callOnce(runtime: SandboxRuntime, key: PoolKey, code: string, start: SandboxStart): Promise<CallSample> {
  const startedAt = performance.now();
  const { sandbox, warm } = start === 'warm' ? await runtime.acquire(key) : { sandbox: await runtime.prepare(key), warm: false };
  try {
    const outcome = await sandbox.run({ code, env: {}, timeoutMs: 60_000 });
    const wallMs = performance.now() - startedAt;
    if (outcome.status !== 'success') {
      throw new Error(`${key.language} on image ${key.image} ended ${outcome.status}: ${outcome.stderr.trim()}`);
    }
    return { overheadMs: outcome.codeStartedAt - startedAt, wallMs, warm, stdout: outcome.stdout };
  } finally {
    // Torn down before the next call starts, so its teardown is not in the next call's figures.
    await sandbox.destroy();
  }
}

/** After a call: the client's pause, and for warm calls until the pool holds the key's replacement. */
async function pauseAfter(runtime: SandboxRuntime, key: PoolKey, start: SandboxStart): Promise<void> {
  if (start === 'warm') await pauseUntilWarm(runtime, key.language, key.image);
  else await sleep(SEQUENTIAL_PAUSE_MS);
}

/**
 * The same program on several images, sequentially, one call per image in each round so that whatever else the
 * machine does falls on every image alike; `warmup` rounds are discarded. Samples by image.
 */
export async function compareImages(
  runtime: SandboxRuntime,
  options: { images: readonly string[]; language: Language; code: string; start: SandboxStart; counts: Counts },
): Promise<Record<string, CallSample[]>> {
  const samples: Record<string, CallSample[]> = Object.fromEntries(options.images.map((image) => [image, []]));
  for (let round = -options.counts.warmup; round < options.counts.iterations; round++) {
    for (const image of options.images) {
      const key = poolKey(image, options.language);
      const sample = await callOnce(runtime, key, options.code, options.start);
      if (round >= 0) samples[image]!.push(sample);
      await pauseAfter(runtime, key, options.start);
    }
  }
  return samples;
}

/** Python that times the first import of `module` in its interpreter and prints the milliseconds. */
function timedImport(module: string): string {
  return `import time\nstarted = time.perf_counter()\nimport ${module}\nprint((time.perf_counter() - started) * 1000)`;
}

/**
 * Import times of python modules inside sandboxes of one image, each call in a fresh sandbox (so a fresh interpreter
 * and an empty home), the modules in turn in each round; `warmup` rounds are discarded. By module: the time the
 * import took inside the interpreter, and the call's wall time.
 */
export async function timeImports(
  runtime: SandboxRuntime,
  options: { image: string; modules: readonly string[]; start: SandboxStart; counts: Counts },
): Promise<Record<string, { insideMs: number[]; wallMs: number[] }>> {
  const key = poolKey(options.image, 'python');
  const results = Object.fromEntries(options.modules.map((module) => [module, { insideMs: [] as number[], wallMs: [] as number[] }]));
  for (let round = -options.counts.warmup; round < options.counts.iterations; round++) {
    for (const module of options.modules) {
      const sample = await callOnce(runtime, key, timedImport(module), options.start);
      if (round >= 0) {
        results[module]!.insideMs.push(Number(sample.stdout.trim()));
        results[module]!.wallMs.push(sample.wallMs);
      }
      await pauseAfter(runtime, key, options.start);
    }
  }
  return results;
}

/**
 * PSS of idle sandboxes of one image: `slots` started per language, waiting for code, read as section 7 reads a warm
 * pool's slots (bench/slot-memory.ts), then destroyed. Run it on a runtime without a pool and with no other sandbox
 * alive: every sandbox of its spawner is counted.
 */
export async function idleSlotMemory(
  runtime: SandboxRuntime,
  options: { image: Image; slots: number; sandboxUid: number },
): Promise<Partial<Record<Language, SlotMemorySummary>>> {
  const { manifest } = options.image;
  const languages = Object.keys(manifest.languages) as Language[];
  const sandboxes: PreparedSandbox[] = [];
  try {
    for (const language of languages) {
      for (let slot = 0; slot < options.slots; slot++) {
        const sandbox = await runtime.prepare(poolKey(manifest.name, language));
        sandboxes.push(sandbox);
        await sandbox.ready;
      }
    }
    await sleep(TEARDOWN_MS);
    const interpreters = Object.fromEntries(Object.entries(manifest.languages).map(([language, entry]) => [language, entry.interpreter]));
    const slots = readIdleSlots({ serverPid: process.pid, sandboxUid: options.sandboxUid, interpreters });
    return Object.fromEntries(languages.map((language) => [language, summarizeSlots(slots, language)]));
  } finally {
    await Promise.all(sandboxes.map((sandbox) => sandbox.destroy()));
    await sleep(TEARDOWN_MS);
  }
}

/** One import of an image: its wall time and where it went, from the import's progress lines. */
export interface ImportSample {
  image: Image;
  archiveBytes: number;
  totalMs: number;
  /** Reading the archive and copying it into an OCI layout (skopeo). */
  fetchMs: number;
  /** Unpacking the layers (umoci). */
  unpackMs: number;
  /** Neutralising, preparing the sandbox root, and discovering the C library and languages (sandboxes). */
  finishMs: number;
  /** After the import: `sync`, until the kernel has written the new files to disk. */
  writebackMs: number;
}

/**
 * Imports an archive under `name` through the runtime's image store, timing the phases its progress names. Each
 * import starts with nothing left to write back (`sync` first), as the files an import writes are on disk only when
 * the kernel has written them back: a second import right after the first would also wait for the first's.
 */
export async function importArchive(runtime: SandboxRuntime, name: string, archive: string): Promise<ImportSample> {
  const source: ImageImportSource = { kind: 'archive', path: archive };
  const marks = new Map<string, number>();
  execFileSync('sync');
  const startedAt = performance.now();
  const image = await runtime.images.import(name, source, {
    onProgress: (line) => {
      for (const phase of ['unpacking', 'neutralising']) if (line.startsWith(phase) && !marks.has(phase)) marks.set(phase, performance.now());
    },
  });
  const endedAt = performance.now();
  execFileSync('sync');
  const writebackMs = performance.now() - endedAt;
  const unpacking = marks.get('unpacking') ?? startedAt;
  const neutralising = marks.get('neutralising') ?? unpacking;
  return {
    image,
    archiveBytes: (await stat(archive)).size,
    totalMs: endedAt - startedAt,
    fetchMs: unpacking - startedAt,
    unpackMs: neutralising - unpacking,
    finishMs: endedAt - neutralising,
    writebackMs,
  };
}
