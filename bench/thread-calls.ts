/**
 * What a thread adds to a call, alone (docs/benchmarks.md, sections 8 and 22): section 8's series (one call without
 * a thread, one on a one-file home and one on a 50 MiB home per round) against a fresh server, printed as one line of
 * JSON, so runs of two checkouts can alternate on one machine:
 *
 *   npm run build && npx vite-node bench/thread-calls.ts [--rounds 50] [--images-dir .cache/images]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchServerConfig, startBenchServer } from './airlock-server.js';
import { measureThreads } from './thread-runs.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '50' },
    'images-dir': { type: 'string', default: '.cache/images' },
  },
});

const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-threads-'));
const server = await startBenchServer(
  benchServerConfig({ dataDirectory, imagesDirectory: resolve(values['images-dir']), warmPool: true }),
);
try {
  const series = await measureThreads(server, { warmup: 5, iterations: Number(values.rounds) });
  const round2 = (value: number) => Math.round(value * 100) / 100;
  console.log(
    JSON.stringify({
      noThreadP50: round2(series.ephemeral.p50),
      oneFileHomeP50: round2(series.smallHome.p50),
      largeHomeP50: round2(series.largeHome.p50),
      addedOneFileP50: round2(series.smallHome.p50 - series.ephemeral.p50),
      addedLargeP50: round2(series.largeHome.p50 - series.ephemeral.p50),
    }),
  );
} finally {
  await server.close();
  await rm(dataDirectory, { recursive: true, force: true });
}
