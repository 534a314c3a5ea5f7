/**
 * Where the CPU of a python call goes (docs/benchmarks.md, section 20): python `print(1)` at concurrency 8 against a
 * server in this process, with the CPU time of every process on the machine read from /proc before and after, by
 * role: the server process (server and client), the embedded database's process, the spawner, sandboxes (their
 * processes, bubblewrap included, counted when reaped), and the rest.
 *
 *   npm run build && npx vite-node bench/cpu-attribution.ts [--start fresh|fork] [--seconds 20] [--cpu-profile FILE]
 *
 * With --cpu-profile, the server process's V8 CPU profile of the measured window is written to FILE (open it in
 * Chrome's DevTools); the profiler's own cost then inflates the server's row.
 *
 * Sandboxes run as the bench's sandbox uid and are reaped by the spawner or a fork template, so their time appears
 * in their reapers' children's time (cutime + cstime); the table counts each process's own time plus the time of its
 * reaped children. A process the kernel reaps (its parent ignores SIGCHLD, as the fork tier's namespace maker does
 * for each execution's pid 1) leaves its time in no process's counters: the last row is the machine's busy time
 * (/proc/stat, less steal) that the rows above do not hold.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchServerConfig, startBenchServer } from './airlock-server.js';
import { runConcurrent } from './http-load.js';
import { cpuBusySince, readCpuTimes } from './machine-facts.js';
import { formatMs } from './units.js';

const { values } = parseArgs({
  options: {
    start: { type: 'string', default: 'fork' },
    seconds: { type: 'string', default: '20' },
    'images-dir': { type: 'string', default: '.cache/images' },
    'cpu-profile': { type: 'string' },
  },
});
const start = values.start === 'fresh' ? 'fresh' : 'fork';
const seconds = Number(values.seconds);
const TICKS_PER_MS = 100 / 1000;

interface Sample {
  pid: number;
  parent: number;
  command: string;
  uid: number;
  /** Own user + system time and reaped children's, in clock ticks. */
  own: number;
  children: number;
}

function sampleProcesses(): Map<number, Sample> {
  const samples = new Map<number, Sample>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const end = stat.lastIndexOf(')');
      const fields = stat.slice(end + 2).split(' ');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      samples.set(Number(entry), {
        pid: Number(entry),
        parent: Number(fields[1]),
        command: stat.slice(stat.indexOf('(') + 1, end),
        uid,
        own: Number(fields[11]) + Number(fields[12]),
        children: Number(fields[13]) + Number(fields[14]),
      });
    } catch {
      // exited meanwhile
    }
  }
  return samples;
}

function role(sample: Sample, sandboxUid: number): string {
  if (sample.pid === process.pid) return 'server process (server and client)';
  if (sample.parent === process.pid && sample.command === 'node') return 'embedded database (PGlite process)';
  if (sample.command === 'airlock-spawner') return 'spawner, and the sandboxes it reaped';
  if (sample.uid === sandboxUid) return 'live sandbox processes (templates, ready sandboxes)';
  if (sample.parent === process.pid) return `other children of the server (${sample.command})`;
  return 'rest of the machine';
}

async function startProfiler(): Promise<{ stop: () => Promise<unknown> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return profile;
    },
  };
}

async function main(): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'airlock-bench-cpu-'));
  const server = await startBenchServer(benchServerConfig({ dataDirectory: directory, imagesDirectory: resolve(values['images-dir']), warmPool: true }));
  try {
    const response = await fetch(`${server.url}/admin/v1/sandboxes/default`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ start }),
    });
    if (response.status !== 200) throw new Error(`PATCH answered ${response.status}`);
    await runConcurrent(server, { language: 'python', code: 'print(1)' }, { concurrency: 8, seconds: 3 });
    const profiler = values['cpu-profile'] === undefined ? undefined : await startProfiler();
    const before = sampleProcesses();
    const machineBefore = readCpuTimes();
    const load = await runConcurrent(server, { language: 'python', code: 'print(1)' }, { concurrency: 8, seconds });
    const machineAfter = readCpuTimes();
    if (profiler && values['cpu-profile']) await writeFile(values['cpu-profile'], JSON.stringify(await profiler.stop()));
    const machineBusy = cpuBusySince(machineBefore, machineAfter);
    const after = sampleProcesses();
    const calls = load.samples.length;
    const totals = new Map<string, number>();
    for (const [pid, sample] of after) {
      const earlier = before.get(pid);
      const ticks = sample.own + sample.children - (earlier ? earlier.own + earlier.children : 0);
      if (ticks <= 0) continue;
      const name = role(sample, server.sandboxUid);
      totals.set(name, (totals.get(name) ?? 0) + ticks);
    }
    const counted = [...totals.values()].reduce((sum, ticks) => sum + ticks, 0);
    const machineTicks = machineAfter.busy - machineAfter.steal - (machineBefore.busy - machineBefore.steal);
    process.stdout.write(`${calls} calls in ${load.elapsedSeconds.toFixed(1)} s (${(calls / load.elapsedSeconds).toFixed(1)}/s), start ${start}, machine busy ${Math.round(machineBusy * 100)}%\n\n`);
    process.stdout.write('| where | CPU per call |\n| --- | --- |\n');
    for (const [name, ticks] of [...totals].sort((a, b) => b[1] - a[1])) {
      process.stdout.write(`| ${name} | ${formatMs(ticks / TICKS_PER_MS / calls)} |\n`);
    }
    process.stdout.write(`| all counted | ${formatMs(counted / TICKS_PER_MS / calls)} |\n`);
    process.stdout.write(`| machine busy, in no process's counters (kernel-reaped processes) | ${formatMs((machineTicks - counted) / TICKS_PER_MS / calls)} |\n`);
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}

await main();
