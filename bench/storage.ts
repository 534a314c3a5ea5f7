/**
 * Storage at /data (docs/benchmarks.md, section 12; docs/decisions/0022-storage-mounts.md), in one run on one warm
 * server, against an S3 emulator on loopback (`rclone serve s3`, test/support):
 *
 *   npx vite-node bench/storage.ts [--iterations 100]
 *
 * - overhead_ms p50 of python `print(1)` with no storage, with one local volume and with one S3 connection attached,
 *   interleaved call by call;
 * - a 10 MB write: from the file's close() in the sandbox to the answer (the upload drained), against the same upload
 *   made directly with rclone from the host;
 * - reading a 100 MB file from /data, from a volume and from the bucket, against reading it on the host (the file,
 *   and the object with `rclone cat`).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageStore } from '@airlock/runtime';
import { runRclone, startStorageEmulator, TEST_RCLONE } from '../test/support/storage-emulators.js';
import { benchServerConfig, post, startBenchServer } from './airlock-server.js';
import { percentile } from './percentiles.js';
import { countingPool, hitRate } from './pool-probe.js';
import { PYTHON_REQUEST, progress } from './server-runs.js';
import { formatMs } from './units.js';

const COMMAND = 'npx vite-node bench/storage.ts';
/** Long enough for the pool to start each call's replacement before the next call. */
const PAUSE_MS = 300;
const WRITE_BYTES = 10 << 20;
const READ_BYTES = 100 << 20;
const TRANSFER_RUNS = 5;

/** python that reads a file whole and prints its MB/s. */
const READ = (path: string) =>
  `import time\nstarted = time.monotonic()\nwith open("${path}", "rb") as f:\n    while f.read(1 << 20): pass\nprint(${READ_BYTES} / (1 << 20) / (time.monotonic() - started))`;

async function run(iterations: number): Promise<string> {
  const repository = fileURLToPath(new URL('..', import.meta.url));
  const imagesDirectory = resolve(repository, '.cache/images');
  await new ImageStore({ directory: imagesDirectory }).ensure('default', (line) => progress(`[image] ${line}`));
  const emulator = await startStorageEmulator('s3');
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  const server = await startBenchServer(benchServerConfig({ dataDirectory, imagesDirectory, warmPool: true }));
  const loadAverages = [loadavg()[0]!];
  try {
    const admin = (path: string, body: unknown) => post(server, path, server.adminToken, body);
    await admin('/admin/v1/volumes', { name: 'Bench', slug: 'vol' });
    await admin('/admin/v1/sandboxes', { name: 'volume' });
    await admin('/admin/v1/sandboxes/volume/attachments', { volume: 'vol' });
    const connection = await admin('/admin/v1/storage-connections', { name: 'Bench bucket', mount_name: 'bucket', ...emulator.connection });
    await admin('/admin/v1/sandboxes', { name: 'bucket' });
    await admin('/admin/v1/sandboxes/bucket/attachments', { connection: connection.id });
    const keys = {
      none: server.apiKey,
      volume: (await admin('/admin/v1/api-keys', { name: 'volume', sandbox: 'volume' })).key as string,
      bucket: (await admin('/admin/v1/api-keys', { name: 'bucket', sandbox: 'bucket' })).key as string,
    };
    const call = async (key: string, code: string) =>
      (await post(server, '/v1/sandbox/execute', key, { language: 'python', code, timeout: 300 })) as {
        overhead_ms: number;
        stdout: string;
        stderr: string;
        storage_sync?: { status: string };
      };

    progress(`overhead: ${iterations} interleaved python calls per storage`);
    const overhead = { none: [] as number[], volume: [] as number[], bucket: [] as number[] };
    const { pool } = await countingPool(server, async () => {
      for (let round = -5; round < iterations; round++) {
        for (const kind of ['none', 'volume', 'bucket'] as const) {
          const answer = await call(keys[kind], PYTHON_REQUEST.code);
          if (round >= 0) overhead[kind].push(answer.overhead_ms);
          await sleep(PAUSE_MS);
        }
      }
    });
    loadAverages.push(loadavg()[0]!);

    progress(`10 MB writes: ${TRANSFER_RUNS} through /data and ${TRANSFER_RUNS} with rclone from the host`);
    const closeToAnswer: number[] = [];
    for (let index = 0; index < TRANSFER_RUNS; index++) {
      const code = `import os, time\nf = open("/data/bucket/write-${index}.bin", "wb")\nf.write(os.urandom(${WRITE_BYTES}))\nf.close()\nprint(time.time() * 1000)`;
      const answer = await call(keys.bucket, code);
      const answeredAt = Date.now();
      if (answer.storage_sync?.status !== 'synced') throw new Error(`a 10 MB write answered ${JSON.stringify(answer.storage_sync)}: ${answer.stderr}`);
      closeToAnswer.push(answeredAt - Number(answer.stdout.trim()));
    }
    const local = join(dataDirectory, 'write.bin');
    await writeFile(local, randomBytes(WRITE_BYTES));
    const direct: number[] = [];
    for (let index = 0; index < TRANSFER_RUNS; index++) {
      const started = performance.now();
      await runRclone(emulator.remote, ['copyto', local, `${emulator.remote.name}:${emulator.remote.bucket}/direct-${index}.bin`]);
      direct.push(performance.now() - started);
    }

    progress('100 MB reads from /data and on the host');
    const big = randomBytes(READ_BYTES);
    await emulator.put('big.bin', big);
    await call(keys.volume, `open("/data/vol/big.bin", "wb").write(b"x" * ${READ_BYTES})`);
    const volumeFile = execFileSync('find', [join(dataDirectory, 'volumes'), '-name', 'big.bin']).toString().trim();
    const mbPerSecond = (bytes: number, ms: number) => bytes / (1 << 20) / (ms / 1000);
    const reads = { volume: [] as number[], bucket: [] as number[], hostFile: [] as number[], hostRclone: [] as number[] };
    for (let index = 0; index < TRANSFER_RUNS; index++) {
      reads.volume.push(Number((await call(keys.volume, READ('/data/vol/big.bin'))).stdout));
      reads.bucket.push(Number((await call(keys.bucket, READ('/data/bucket/big.bin'))).stdout));
      // The same python program on the host, timing its reads alone as in the sandbox.
      reads.hostFile.push(Number(execFileSync('python3', ['-c', READ(volumeFile)]).toString()));
      const started = performance.now();
      execFileSync(TEST_RCLONE, ['cat', `${emulator.remote.name}:${emulator.remote.bucket}/big.bin`], {
        env: { PATH: '/usr/bin:/bin', ...emulator.remote.environment },
        maxBuffer: READ_BYTES * 2,
      });
      reads.hostRclone.push(mbPerSecond(READ_BYTES, performance.now() - started));
    }
    loadAverages.push(loadavg()[0]!);

    const p50 = (samples: number[]) => percentile(samples, 50);
    const rate = (samples: number[]) => `${p50(samples).toFixed(0)} MB/s`;
    return [
      `Command: \`${COMMAND} --iterations ${iterations}\`; 1-minute load average ${loadAverages.map((value) => value.toFixed(2)).join(', ')} (start, after the calls, at the end).`,
      '',
      '| metric | value | target | met? |',
      '| --- | --- | --- | --- |',
      `| overhead_ms p50, python \`print(1)\`, no storage (${overhead.none.length} calls) | ${formatMs(p50(overhead.none))} | — | — |`,
      `| overhead_ms p50, one local volume | ${formatMs(p50(overhead.volume))} | — | — |`,
      `| volume - none, p50 | ${formatMs(p50(overhead.volume) - p50(overhead.none))} | <= 1 ms | ${p50(overhead.volume) - p50(overhead.none) <= 1 ? 'yes' : 'no'} |`,
      `| overhead_ms p50, one S3 connection (emulator on loopback) | ${formatMs(p50(overhead.bucket))} | — | — |`,
      `| bucket - none, p50 | ${formatMs(p50(overhead.bucket) - p50(overhead.none))} | <= 1 ms | ${p50(overhead.bucket) - p50(overhead.none) <= 1 ? 'yes' : 'no'} |`,
      `| warm pool hits over the three series | ${Math.round(hitRate(pool) * 100)}% | — | — |`,
      `| 10 MB write, close() in the sandbox to the answer (uploaded), p50 of ${TRANSFER_RUNS} | ${formatMs(p50(closeToAnswer))} | — | — |`,
      `| the same upload with rclone copyto from the host, p50 | ${formatMs(p50(direct))} | — | — |`,
      `| 100 MB read from /data, local volume, p50 | ${rate(reads.volume)} | — | — |`,
      `| the same file read on the host | ${rate(reads.hostFile)} | — | — |`,
      `| 100 MB read from /data, S3 connection, p50 | ${rate(reads.bucket)} | — | — |`,
      `| the same object with rclone cat on the host | ${rate(reads.hostRclone)} | — | — |`,
    ].join('\n');
  } finally {
    await server.close();
    await rm(dataDirectory, { recursive: true, force: true });
    await emulator.remove();
  }
}

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '100' } } });
process.stdout.write(`${await run(Number(values.iterations))}\n`);
