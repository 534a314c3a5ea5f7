/**
 * Runtime images (docs/benchmarks.md, section 13; issue 16): the Debian 12 image the default image was (Python 3.11,
 * Debian's Node.js 18 without a V8 start-up snapshot) against the Debian 13 default (Python 3.13, the official
 * Node.js 24 build with its snapshot, the data stack), in one run, through the runtime API (no server):
 *
 *   npx vite-node bench/images.ts [--iterations 40] [--build]
 *
 * - interpreter start-up without Airlock: in a chroot, and in bare bubblewrap (bench/baselines.ts);
 * - node `console.log(1)` and python `print(1)`, cold (a sandbox started for the call) and warm (taken from the
 *   pool): wall time and overhead (start or take -> code running), the calls alternating between the images;
 * - the first import of numpy, pandas, matplotlib.pyplot and sklearn in warm and cold sandboxes of the new image;
 * - PSS of idle sandboxes per language, each image on its own;
 * - image sizes; imports of the new default's root file system packed as a one-layer OCI archive and of a bash-only
 *   image; with --build, both images built from scratch (about two minutes; downloads every Debian package and the
 *   default's pinned Node.js, npm and wheels).
 */
import { chmod, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Language } from '@airlock/contracts';
import { DEFAULT_IMAGE_RECIPE, ImageStore, type Image, type SandboxRuntime } from '@airlock/runtime';
import type { Config } from '@airlock/server';
import { benchServerConfig } from './airlock-server.js';
import { coldBaselines, timeRun, type ColdBaselines } from './baselines.js';
import { DEBIAN12_RECIPE } from './debian12-recipe.js';
import { compareImages, idleSlotMemory, importArchive, timeImports, type CallSample, type ImportSample } from './image-runs.js';
import { packBashOnly, packRootfs } from './oci-archives.js';
import { percentile } from './percentiles.js';
import { parseCount } from './options.js';
import { startBenchRuntime } from './runtime-runs.js';
import { progress } from './server-runs.js';
import type { SlotMemorySummary } from './slot-memory.js';
import { formatMiB, formatMs, formatRatio } from './units.js';

const COMMAND = 'npx vite-node bench/images.ts';
const repository = fileURLToPath(new URL('..', import.meta.url));
/** Where the Debian 12 image is built once, apart from any server's images. */
const OLD_IMAGES_DIRECTORY = join(repository, '.cache/bench-images');
/** The Debian 12 image's name in the runtime (an imported image) and the Debian 13 default's. */
const OLD = 'debian12';
const NEW = 'default';
const MODULES = ['numpy', 'pandas', 'matplotlib.pyplot', 'sklearn'] as const;
const LANGUAGES: readonly Language[] = ['python', 'node', 'bash'];

interface Options {
  iterations: number;
  warmup: number;
  libraryRuns: number;
  importRuns: number;
  slots: number;
  images: string;
  build: boolean;
}

type Pair = { old: number[]; new: number[] };

/** Start-up without Airlock, both images, one run of each command per image in each round. */
async function rawStartups(
  images: { old: Image; new: Image },
  config: Config,
  counts: { warmup: number; iterations: number },
): Promise<Record<string, Pair>> {
  const baselines = (image: Image): ColdBaselines => {
    const { python, node } = image.manifest.languages;
    if (!python || !node) throw new Error(`image ${image.manifest.name} ${image.manifest.version} lacks python or node`);
    return coldBaselines({
      rootfs: image.rootfs,
      interpreters: { python: python.interpreter, node: node.interpreter },
      bubblewrapPath: config.bwrapPath,
      sandboxUser: { uid: config.sandboxUid, gid: config.sandboxGid },
    });
  };
  const old = baselines(images.old);
  const fresh = baselines(images.new);
  const names = ['chrootNode', 'bubblewrapNode', 'chrootPython', 'bubblewrapPython'] as const;
  const results = Object.fromEntries(names.map((name) => [name, { old: [] as number[], new: [] as number[] }]));
  progress(`start-up without Airlock: ${counts.iterations} rounds of ${names.length} commands on both images`);
  for (let round = -counts.warmup; round < counts.iterations; round++) {
    for (const name of names) {
      const oldMs = await timeRun(old[name]);
      const newMs = await timeRun(fresh[name]);
      if (round >= 0) {
        results[name]!.old.push(oldMs);
        results[name]!.new.push(newMs);
      }
    }
  }
  return results;
}

/** The default's directory, linked into the runtime's images directory: the runtime loads it as it is. */
async function runtimeImagesDirectory(scratch: string, image: Image): Promise<string> {
  const directory = join(scratch, 'images');
  await mkdir(directory, { mode: 0o755 });
  const imageDirectory = dirname(image.rootfs);
  await symlink(imageDirectory, join(directory, basename(imageDirectory)));
  return directory;
}

function pair(samples: Record<string, CallSample[]>, part: (sample: CallSample) => number): Pair {
  return { old: samples[OLD]!.map(part), new: samples[NEW]!.map(part) };
}

function warmCount(samples: Record<string, CallSample[]>): string {
  const all = [...samples[OLD]!, ...samples[NEW]!];
  return `${all.filter((sample) => sample.warm).length} of ${all.length}`;
}

/** Builds an image from scratch into an empty directory of the run's; its time and what it downloaded besides Debian packages. */
async function timeBuild(scratch: string, name: string): Promise<{ seconds: number; downloadedMB: number; sizeBytes: number }> {
  const directory = join(scratch, `build-${name}`);
  const store = new ImageStore({ directory, recipes: [DEFAULT_IMAGE_RECIPE, DEBIAN12_RECIPE] });
  let downloadedMB = 0;
  progress(`building image ${name} from scratch`);
  const startedAt = performance.now();
  const image = await store.build(name, {
    onProgress: (line) => {
      const match = /^downloaded .* \(([\d.]+) MB\)$/.exec(line);
      if (match) downloadedMB += Number(match[1]);
    },
  });
  const seconds = (performance.now() - startedAt) / 1000;
  progress(`  ${seconds.toFixed(1)} s`);
  // Left for the run's cleanup, as imports are (measureWithoutPool).
  return { seconds, downloadedMB, sizeBytes: image.manifest.sizeBytes };
}

/** `runs` imports of one archive, each under a name of its own (`<name>-<run>`); the caller removes them. */
async function importRuns(runtime: SandboxRuntime, name: string, archive: string, runs: number): Promise<ImportSample[]> {
  const samples: ImportSample[] = [];
  for (let run = 1; run <= runs; run++) {
    samples.push(await importArchive(runtime, `${name}-${run}`, archive));
    progress(`  import of ${name}: ${formatSeconds(samples.at(-1)!.totalMs)}`);
  }
  return samples;
}

/** "33.9 s of 3 (23.1 s, 33.9 s, 38.2 s); archive 346 MB: skopeo 2.59 s, umoci 30.4 s, ...". */
function importCell(samples: readonly ImportSample[]): string {
  const median = (part: (sample: ImportSample) => number) => formatSeconds(p50(samples.map(part)));
  const totals = samples.map((sample) => sample.totalMs);
  return (
    `${formatSeconds(p50(totals))} of ${totals.length} (${totals.map(formatSeconds).join(', ')}); archive ${megabytes(samples[0]!.archiveBytes)}: ` +
    `reading it and skopeo ${median((sample) => sample.fetchMs)}, umoci ${median((sample) => sample.unpackMs)}, ` +
    `neutralising and discovery ${median((sample) => sample.finishMs)}; then \`sync\` ${median((sample) => sample.writebackMs)}`
  );
}

/** Files, directories and links of a root file system. */
async function countEntries(rootfs: string): Promise<number> {
  // With file types, links are listed and not followed (a root has links to directories, some to ".").
  return (await readdir(rootfs, { recursive: true, withFileTypes: true })).length;
}

function formatSeconds(milliseconds: number): string {
  return `${(milliseconds / 1000).toFixed(milliseconds < 10_000 ? 2 : 1)} s`;
}

function megabytes(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`;
}

const p50 = (samples: readonly number[]) => percentile(samples, 50);
const p90 = (samples: readonly number[]) => percentile(samples, 90);
const latency = (samples: readonly number[]) => `${formatMs(p50(samples))} (${formatMs(p90(samples))})`;
const slotCell = (summary: SlotMemorySummary | undefined) =>
  summary ? `${formatMiB(summary.totalKiB)} (${formatMiB(summary.anonymousKiB)})` : '—';

/** A runtime on the benchmark's images directory for `work`, closed afterwards. */
async function withRuntime<T>(config: Config, stateDirectory: string, work: (runtime: SandboxRuntime) => Promise<T>): Promise<T> {
  const runtime = await startBenchRuntime({ config, stateDirectory });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

/**
 * Without a pool: the imports (the Debian 12 image joins the runtime as an imported image, as any image that is not a
 * built-in recipe does), cold calls, module imports in cold sandboxes, and idle memory.
 */
async function measureWithoutPool(runtime: SandboxRuntime, context: { scratch: string; old: Image; fresh: Image; sandboxUid: number; options: Options }) {
  const { scratch, old, fresh, options } = context;
  const counts = { warmup: options.warmup, iterations: options.iterations };
  progress(`packing the Debian 12 root file system as an OCI archive; an import for the runtime, then ${options.importRuns} more`);
  const oldArchive = join(scratch, 'debian12.tar');
  await packRootfs({ rootfs: old.rootfs, archive: oldArchive, workDirectory: scratch });
  const oldImage = (await importArchive(runtime, OLD, oldArchive)).image;
  await runtime.loadImage(OLD);
  const oldImports = await importRuns(runtime, 'debian12-oci', oldArchive, options.importRuns);
  await rm(oldArchive);
  progress(`packing the default's root file system as an OCI archive; ${options.importRuns} imports`);
  const largeArchive = join(scratch, 'default.tar');
  await packRootfs({ rootfs: fresh.rootfs, archive: largeArchive, workDirectory: scratch });
  const largeImports = await importRuns(runtime, 'default-oci', largeArchive, options.importRuns);
  await rm(largeArchive);
  const bashArchive = join(scratch, 'bash-only.tar');
  await packBashOnly({ archive: bashArchive, workDirectory: scratch });
  const bashImports = await importRuns(runtime, 'bash-only', bashArchive, options.importRuns);
  progress(`cold calls: ${options.iterations} per image and language`);
  const node = await compareImages(runtime, { images: [OLD, NEW], language: 'node', code: 'console.log(1)', start: 'cold', counts });
  const python = await compareImages(runtime, { images: [OLD, NEW], language: 'python', code: 'print(1)', start: 'cold', counts });
  progress(`cold module imports: ${options.libraryRuns} per module`);
  const modules = await timeImports(runtime, { image: NEW, modules: MODULES, start: 'cold', counts: { warmup: 1, iterations: options.libraryRuns } });
  progress(`idle memory: ${options.slots} sandboxes per language, one image at a time`);
  const memory = {
    old: await idleSlotMemory(runtime, { image: oldImage, slots: options.slots, sandboxUid: context.sandboxUid }),
    new: await idleSlotMemory(runtime, { image: fresh, slots: options.slots, sandboxUid: context.sandboxUid }),
  };
  // Removed only at the end: on this machine's disk (ext4 with online discard), unpacking a large image took about
  // twice as long (three times the system time) for a few minutes after one was deleted.
  for (const sample of [...oldImports, ...largeImports, ...bashImports]) await runtime.images.remove(sample.image.manifest.name);
  return { oldImports, largeImports, bashImports, node, python, modules, memory };
}

/** With the warm pool (the server's default settings): warm calls and module imports in warm sandboxes. */
async function measureWithPool(runtime: SandboxRuntime, options: Options) {
  const counts = { warmup: options.warmup, iterations: options.iterations };
  await runtime.loadImage(OLD);
  progress(`warm calls: ${options.iterations} per image and language`);
  const node = await compareImages(runtime, { images: [OLD, NEW], language: 'node', code: 'console.log(1)', start: 'warm', counts });
  const python = await compareImages(runtime, { images: [OLD, NEW], language: 'python', code: 'print(1)', start: 'warm', counts });
  progress(`warm module imports: ${options.libraryRuns} per module`);
  const modules = await timeImports(runtime, { image: NEW, modules: MODULES, start: 'warm', counts: { warmup: 1, iterations: options.libraryRuns } });
  return { node, python, modules };
}

type Results = {
  options: Options;
  seconds: number;
  loadAverages: number[];
  images: { old: Image; fresh: Image; slim: Image };
  /** Files, directories and links of each image's root file system. */
  entries: { old: number; fresh: number; slim: number };
  raw: Record<string, Pair>;
  cold: Awaited<ReturnType<typeof measureWithoutPool>>;
  warm: Awaited<ReturnType<typeof measureWithPool>>;
  builds?: { old: Awaited<ReturnType<typeof timeBuild>>; new: Awaited<ReturnType<typeof timeBuild>> };
};

/** The section's tables, in markdown. */
function renderTables(results: Results): string {
  const { options, images, entries, raw, cold, warm, builds } = results;
  const flags = [
    `--iterations ${options.iterations}`,
    `--warmup ${options.warmup}`,
    `--library-runs ${options.libraryRuns}`,
    `--import-runs ${options.importRuns}`,
    `--slots ${options.slots}`,
    ...(options.build ? ['--build'] : []),
  ];
  const versions = (image: Image) =>
    `${image.manifest.name} ${image.manifest.version}: ${Object.values(image.manifest.languages).map((entry) => entry.version.split(' (')[0]).join(', ')}`;
  const rows: Array<[string, Pair]> = [
    ['`chroot node -e 0`, no sandbox', raw.chrootNode!],
    ["`bwrap node -e 'console.log(1)'`, bare bubblewrap", raw.bubblewrapNode!],
    ['`chroot python3 -c pass`, no sandbox', raw.chrootPython!],
    ["`bwrap python3 -c 'print(1)'`, bare bubblewrap", raw.bubblewrapPython!],
    ['node `console.log(1)`, cold: start -> result', pair(cold.node, (sample) => sample.wallMs)],
    ['node, cold: start -> code running', pair(cold.node, (sample) => sample.overheadMs)],
    ['node `console.log(1)`, warm: take -> result', pair(warm.node, (sample) => sample.wallMs)],
    ['node, warm: take -> code running', pair(warm.node, (sample) => sample.overheadMs)],
    ['python `print(1)`, cold: start -> result', pair(cold.python, (sample) => sample.wallMs)],
    ['python, cold: start -> code running', pair(cold.python, (sample) => sample.overheadMs)],
    ['python `print(1)`, warm: take -> result', pair(warm.python, (sample) => sample.wallMs)],
    ['python, warm: take -> code running (warm overhead)', pair(warm.python, (sample) => sample.overheadMs)],
  ];
  const build = (which: 'old' | 'new') =>
    !builds ? '— (`--build`)'
    : builds[which].downloadedMB === 0 ? `${builds[which].seconds.toFixed(1)} s`
    : `${builds[which].seconds.toFixed(1)} s (${builds[which].downloadedMB.toFixed(0)} MB of them from npm and PyPI)`;
  return [
    `Command: \`${COMMAND} ${flags.join(' ')}\`, ${Math.round(results.seconds)} s; 1-minute load average ` +
      `${results.loadAverages.map((value) => value.toFixed(2)).join(', ')} (start, after the runtime without a pool, after ` +
      `the one with it${builds ? ', after the builds' : ''}). Images: ${versions(images.old)}; ${versions(images.fresh)}.`,
    '',
    '| p50 (p90) | Debian 12 | Debian 13 | 13 / 12, p50 |',
    '| --- | --- | --- | --- |',
    ...rows.map(([metric, samples]) => `| ${metric} | ${latency(samples.old)} | ${latency(samples.new)} | ${formatRatio(p50(samples.new) / p50(samples.old))} |`),
    `| calls served warm (node, python) | ${warmCount(warm.node)}, ${warmCount(warm.python)} | | |`,
    '',
    `| idle sandbox, PSS (anonymous part), ${options.slots} per language | Debian 12 | Debian 13 | 13 / 12 |`,
    '| --- | --- | --- | --- |',
    ...LANGUAGES.map((language) => {
      const before = cold.memory.old[language];
      const after = cold.memory.new[language];
      const ratio = before && after ? formatRatio(after.totalKiB / before.totalKiB) : '—';
      return `| ${language} | ${slotCell(before)} | ${slotCell(after)} | ${ratio} |`;
    }),
    '',
    `| first import, fresh sandbox, Debian 13, ${options.libraryRuns} runs | warm: import p50 (p90) | warm: call p50 | cold: import p50 (p90) | cold: call p50 |`,
    '| --- | --- | --- | --- | --- |',
    ...MODULES.map((module) => {
      const inWarm = warm.modules[module]!;
      const inCold = cold.modules[module]!;
      return `| \`import ${module}\` | ${latency(inWarm.insideMs)} | ${formatMs(p50(inWarm.wallMs))} | ${latency(inCold.insideMs)} | ${formatMs(p50(inCold.wallMs))} |`;
    }),
    '',
    '| image | size (manifest), entries | build from scratch | import from a one-layer OCI archive: p50 of the runs; its phases, p50 |',
    '| --- | --- | --- | --- |',
    `| Debian 12 (${OLD}) | ${megabytes(images.old.manifest.sizeBytes)}, ${entries.old} | ${build('old')} | ${importCell(cold.oldImports)} |`,
    `| Debian 13 (${NEW}) | ${megabytes(images.fresh.manifest.sizeBytes)}, ${entries.fresh} | ${build('new')} | ${importCell(cold.largeImports)} |`,
    `| slim | ${megabytes(images.slim.manifest.sizeBytes)}, ${entries.slim} | — | — |`,
    `| bash-only (the host's bash and cat) | ${megabytes(cold.bashImports[0]!.image.manifest.sizeBytes)} | — | ${importCell(cold.bashImports)} |`,
  ].join('\n');
}

async function run(options: Options): Promise<string> {
  const startedAt = performance.now();
  const loadAverages = [loadavg()[0]!];
  const scratch = await mkdtemp(join(tmpdir(), 'airlock-bench-images-'));
  // bubblewrap, as the sandbox user, reaches the homes and image roots below it.
  await chmod(scratch, 0o711);
  try {
    const onImageProgress = (line: string) => progress(`[image] ${line}`);
    const store = new ImageStore({ directory: resolve(repository, options.images) });
    const fresh = await store.ensure(NEW, onImageProgress);
    const slim = await store.ensure('slim', onImageProgress);
    const old = await new ImageStore({ directory: OLD_IMAGES_DIRECTORY, recipes: [DEBIAN12_RECIPE] }).ensure(OLD, onImageProgress);

    const entries = { old: await countEntries(old.rootfs), fresh: await countEntries(fresh.rootfs), slim: await countEntries(slim.rootfs) };
    const imagesDirectory = await runtimeImagesDirectory(scratch, fresh);
    const config = (name: string, warmPool: boolean) =>
      benchServerConfig({ dataDirectory: join(scratch, `data-${name}`), imagesDirectory, warmPool });
    const coldConfig = config('cold', false);
    const raw = await rawStartups({ old, new: fresh }, coldConfig, options);
    const cold = await withRuntime(coldConfig, join(scratch, 'state-cold'), (runtime) =>
      measureWithoutPool(runtime, { scratch, old, fresh, sandboxUid: coldConfig.sandboxUid, options }),
    );
    loadAverages.push(loadavg()[0]!);
    const warm = await withRuntime(config('warm', true), join(scratch, 'state-warm'), (runtime) => measureWithPool(runtime, options));
    loadAverages.push(loadavg()[0]!);
    const builds = options.build ? { old: await timeBuild(scratch, OLD), new: await timeBuild(scratch, NEW) } : undefined;
    if (builds) loadAverages.push(loadavg()[0]!);
    const seconds = (performance.now() - startedAt) / 1000;
    return renderTables({ options, seconds, loadAverages, images: { old, fresh, slim }, entries, raw, cold, warm, ...(builds && { builds }) });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      iterations: { type: 'string', default: '40' },
      warmup: { type: 'string', default: '3' },
      'library-runs': { type: 'string', default: '10' },
      'import-runs': { type: 'string', default: '3' },
      slots: { type: 'string', default: '8' },
      images: { type: 'string', default: '.cache/images' },
      build: { type: 'boolean', default: false },
    },
  });
  const count = (name: 'iterations' | 'warmup' | 'library-runs' | 'import-runs' | 'slots', minimum: number): number =>
    parseCount(`--${name}`, values[name], minimum);
  return {
    iterations: count('iterations', 1),
    warmup: count('warmup', 0),
    libraryRuns: count('library-runs', 1),
    importRuns: count('import-runs', 1),
    slots: count('slots', 1),
    images: values.images,
    build: values.build,
  };
}

try {
  const options = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run the benchmark as root: sandboxes join cgroups and run as another user');
  process.stdout.write(`${await run(options)}\n`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
