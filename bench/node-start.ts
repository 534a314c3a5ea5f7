/**
 * What a node start costs, and whether a start-up snapshot would cut it (docs/benchmarks.md, section 21;
 * docs/decisions/0033-fork-tier.md):
 *
 *   npx vite-node bench/node-start.ts [--rounds 5] [--runs 20] [--images-dir .cache/images]
 *
 * CPU time (user + system, from the shell's `times`) of one start of the default image's interpreters in a chroot,
 * each run in a mount namespace of its own with a scratch directory bound at /tmp: `node -e 0`; node running the
 * set-up the node stub does before it reads a request (the modules it requires, a compile and a module's paths);
 * the same set-up restored from a user-land start-up snapshot (`node --build-snapshot`, then `--snapshot-blob`);
 * and python beside them. The cost of the wrapper (unshare, mount, chroot of /bin/true) is subtracted. Rounds
 * alternate the variants; the report gives each one's median over rounds. Run as root.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ImageStore } from '@airlock/runtime';
import { percentile } from './percentiles.js';
import { formatMs, formatRatio } from './units.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '20' },
    'images-dir': { type: 'string', default: '.cache/images' },
  },
});
const rounds = Number(values.rounds);
const runs = Number(values.runs);

/** What the node stub does before it waits for its request (packages/runtime/stubs/node-stub.js). */
const STUB_SET_UP = [
  "const fs = require('fs'); const path = require('path'); const vm = require('vm'); const Module = require('module');",
  "vm.runInThisContext('0', { filename: '[warm-up]' });",
  "new Module('[warm-up]').paths = Module._nodeModulePaths(process.cwd());",
].join('\n');

const SNAPSHOT_ENTRY = `${STUB_SET_UP}
require('v8').startupSnapshot.setDeserializeMainFunction(() => vm.runInThisContext(process.argv[2] ?? '0'));
`;

/** Runs `shell` in bash and returns its children's CPU time in milliseconds (the second line of `times`). */
function childrenCpuMs(shell: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-c', `${shell}\ntimes`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = output.trim().split('\n').at(-1) ?? '';
      const seconds = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((match) => Number(match[1]) * 60 + Number(match[2]));
      if (code !== 0 || seconds.length !== 2) reject(new Error(`measurement failed (${code}): ${output}`));
      else resolvePromise((seconds[0]! + seconds[1]!) * 1000);
    });
  });
}

async function main(): Promise<void> {
  const image = await new ImageStore({ directory: resolve(values['images-dir']) }).ensure('default');
  const node = image.manifest.languages.node!.interpreter;
  const python = image.manifest.languages.python!.interpreter;
  const scratch = await mkdtemp(join(tmpdir(), 'airlock-node-start-'));
  await chmod(scratch, 0o755);
  try {
    await writeFile(join(scratch, 'entry.js'), SNAPSHOT_ENTRY);
    const inChroot = (command: string): string =>
      `unshare -m sh -c 'mount --bind ${scratch} ${image.rootfs}/tmp && exec chroot ${image.rootfs} ${command}' >/dev/null`;
    await childrenCpuMs(`${inChroot(`${node} --snapshot-blob /tmp/stub.blob --build-snapshot /tmp/entry.js`)} 2>/dev/null`);
    const quoted = (code: string): string => `"${code.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('$', '\\$').replaceAll("'", "'\\''")}"`;
    const variants: Array<[string, string]> = [
      ['wrapper (chroot /bin/true)', '/bin/true'],
      ['node -e 0', `${node} -e 0`],
      ["node: the stub's set-up", `${node} -e ${quoted(STUB_SET_UP)}`],
      ["node: the stub's set-up from a start-up snapshot", `${node} --snapshot-blob /tmp/stub.blob 0`],
      ['python3 -c pass', `${python} -c pass`],
      ['python3 -I -S -c pass', `${python} -I -S -c pass`],
    ];
    const perRun = new Map<string, number[]>(variants.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, command] of variants) {
        const cpu = await childrenCpuMs(`for i in $(seq ${runs}); do ${inChroot(command)}; done`);
        perRun.get(name)!.push(cpu / runs);
      }
    }
    const wrapper = percentile(perRun.get(variants[0]![0])!, 50);
    const median = (name: string): number => percentile(perRun.get(name)!, 50) - wrapper;
    const setUp = median(variants[2]![0]);
    console.log(`# node start-up CPU (${rounds} rounds of ${runs} runs, median per start, wrapper of ${formatMs(wrapper)} subtracted)\n`);
    console.log('| start | CPU per start | vs the stub\'s set-up |');
    console.log('|---|---|---|');
    for (const [name] of variants.slice(1)) console.log(`| ${name} | ${formatMs(median(name))} | ${formatRatio(median(name) / setUp)} |`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
