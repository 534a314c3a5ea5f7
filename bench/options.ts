import { parseArgs } from 'node:util';

/** Settings of one benchmark run; each resolves flag -> environment variable -> default. */
export interface BenchOptions {
  iterations: number;
  warmup: number;
  seconds: number;
  burst: number;
  output: string;
  images: string;
}

/** The one command that runs every benchmark and rewrites the report. */
export const BENCH_COMMAND = 'npx vite-node bench/run.ts';

export interface OptionDescriptor {
  variable: string;
  fallback: string;
  description: string;
}

/** Every option, by its flag name (`--iterations`, ...). */
export const BENCH_OPTIONS: Record<keyof BenchOptions, OptionDescriptor> = {
  iterations: { variable: 'AIRLOCK_BENCH_ITERATIONS', fallback: '100', description: 'sequential runs per baseline and per language' },
  warmup: { variable: 'AIRLOCK_BENCH_WARMUP', fallback: '5', description: 'discarded runs before each series' },
  seconds: { variable: 'AIRLOCK_BENCH_SECONDS', fallback: '20', description: 'duration of the throughput run and of the CPU floor' },
  burst: { variable: 'AIRLOCK_BENCH_BURST', fallback: '200', description: 'requests in the burst' },
  output: { variable: 'AIRLOCK_BENCH_OUTPUT', fallback: 'docs/benchmarks.md', description: 'report file, relative to the repository' },
  images: {
    variable: 'AIRLOCK_BENCH_IMAGES_DIR',
    fallback: '.cache/images',
    description: 'runtime images directory, relative to the repository, shared with the tests; the default image is built there if missing',
  },
};

export class BenchOptionError extends Error {
  override readonly name = 'BenchOptionError';
}

/** A whole-number option's value; `option` names it in the error, as the user gave it (`--iterations`). */
export function parseCount(option: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) {
    throw new BenchOptionError(`${option} must be a whole number >= ${minimum}, got "${text}"`);
  }
  return value;
}

export function parseOptions(argv: string[], environment: NodeJS.ProcessEnv): BenchOptions {
  const names = Object.keys(BENCH_OPTIONS) as Array<keyof BenchOptions>;
  let flags: Partial<Record<keyof BenchOptions, string>>;
  try {
    flags = parseArgs({ args: argv, options: Object.fromEntries(names.map((name) => [name, { type: 'string' }])) }).values;
  } catch (error) {
    throw new BenchOptionError(`${(error as Error).message}; known options: ${names.map((name) => `--${name}`).join(', ')}`);
  }
  const resolve = (name: keyof BenchOptions): string =>
    flags[name] ?? environment[BENCH_OPTIONS[name].variable] ?? BENCH_OPTIONS[name].fallback;
  const count = (name: keyof BenchOptions, minimum: number): number =>
    parseCount(`--${name} (${BENCH_OPTIONS[name].variable})`, resolve(name), minimum);
  return {
    iterations: count('iterations', 1),
    warmup: count('warmup', 0),
    seconds: count('seconds', 1),
    burst: count('burst', 1),
    output: resolve('output'),
    images: resolve('images'),
  };
}
