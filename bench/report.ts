import { LANGUAGES, type Language } from '@airlock/contracts';
import type { Baseline, ColdBaselines } from './baselines.js';
import type { DeliverySeries } from './delivery-runs.js';
import type { MachineFacts } from './machine-facts.js';
import type { LatencySummary } from './percentiles.js';
import type { PoolCounts } from './pool-probe.js';
import { summarizeResults } from './report-summary.js';
import type { SlotMemorySummary } from './slot-memory.js';
import type { ThreadSeries } from './thread-runs.js';
import {
  COLD_OVERHEAD_LIMIT,
  HTTP_RATIO_LIMIT,
  SLOT_MEMORY_LIMIT,
  THREAD_ADDED_LIMIT,
  THROUGHPUT_RATIO_MINIMUM,
  WARM_OVERHEAD_LIMIT,
} from './targets.js';
import { formatHits, formatMiB, formatMiBAndKiB, formatMs, formatPercent, formatRate, formatRatio } from './units.js';

/** Sequential calls of one language: client wall time, the server's overhead_ms, and CPU time of this process per call. */
export interface SequentialSeries {
  wall: LatencySummary;
  overhead: LatencySummary;
  /** The server's duration_ms: from the code's start until the sandbox's processes have exited. */
  run: LatencySummary;
  /** User plus system CPU time. */
  processCpuMs: number;
  /** The system (kernel) part of it: forks, pipes, cgroup files, sockets. */
  processSystemCpuMs: number;
}

/** A sequential series on the server with the warm pool, and what the pool did during it. */
export interface WarmSeries extends SequentialSeries {
  pool: PoolCounts;
}

/** Everything one run measured. */
export interface BenchResults {
  command: string;
  /** Wall time of the whole run. */
  runSeconds: number;
  facts: MachineFacts;
  image: { version: string; languageVersions: Partial<Record<Language, string>> };
  settings: {
    warmup: number;
    iterations: number;
    /** Client pause after each sequential call. */
    pauseMs: number;
    sandboxUid: number;
    /** The warm server's pool settings (its defaults). */
    pool: { maxSlots: number; maxSlotsPerKey: number; idleSeconds: number };
  };
  baselines: Record<Exclude<keyof ColdBaselines, 'pythonFloor'>, { baseline: Baseline; summary: LatencySummary }>;
  /** The process that runs the servers (and the HTTP client): memory, and what starting any process costs in it. */
  serverProcess: { residentMiBBefore: number; residentMiBAfter: number; spawnTrue: LatencySummary };
  /** Requests that start no sandbox, on the warm server: HTTP alone, and HTTP with the API key lookup. */
  roundTrips: { health: LatencySummary; authenticated: LatencySummary };
  /** Warm python sandboxes taken from a pool through the runtime API, without a server: take -> code running. */
  runtimeWarm: { overhead: LatencySummary; pool: PoolCounts };
  /** The server with AIRLOCK_POOL_MAX_SLOTS=0: every call starts a cold sandbox. */
  cold: Record<Language, SequentialSeries>;
  /** The server with the warm pool. */
  warm: Record<Language, WarmSeries>;
  /** Streamed and async python calls on the warm server, right after its sequential series. */
  deliveryModes: DeliverySeries;
  throughput: {
    floor: Baseline;
    floorWorkers: number;
    floorPerSecond: number;
    concurrency: number;
    seconds: number;
    perSecond: number;
    requests: number;
    failed: number;
    wall: LatencySummary;
    pool: PoolCounts;
    /** Share of the run the event loop of the benchmark process (servers and client) was busy. */
    eventLoopBusy: number;
    /** Share of the machine's CPU time (all cores) that was busy over the run. */
    machineBusy: number;
    /** CPU time of that process per request. */
    processCpuMs: number;
  };
  burst: {
    requests: number;
    concurrency: number;
    httpErrors: number;
    failedExecutions: number;
    elapsedSeconds: number;
    wall: LatencySummary;
    pool: PoolCounts;
  };
  /** The warm server's idle slots after the burst: how many the pool reported ready, and their mean memory. */
  slotMemory: Record<Language, { readySlots: number; summary: SlotMemorySummary | undefined }>;
  /** Calls that change one file, without a thread and on thread homes of two sizes, on the warm server. */
  threads: ThreadSeries;
}

/** One line of a section's table; `met` is undefined when docs/architecture.md sets no target for the metric. */
export interface ReportRow {
  metric: string;
  value: string;
  target: string;
  met: boolean | undefined;
}

export interface ReportSection {
  title: string;
  rows: ReportRow[];
  notes: string[];
}

export interface Report {
  results: BenchResults;
  sections: ReportSection[];
  summary: string;
}

function info(metric: string, value: string, target = '—'): ReportRow {
  return { metric, value, target, met: undefined };
}

/** A row with a threshold of docs/architecture.md: `value` must stay at or below `limit`. */
function atMost(metric: string, value: number, limit: { value: number; text: string }, format: (value: number) => string): ReportRow {
  return { metric, value: format(value), target: `<= ${limit.text}`, met: value <= limit.value };
}

/** p50 and p99 rows; `p50Reference` is a figure quoted for comparison, not a target. */
function latencyRows(label: string, summary: LatencySummary, p50Reference = '—'): ReportRow[] {
  return [info(`${label} p50`, formatMs(summary.p50), p50Reference), info(`${label} p99`, formatMs(summary.p99))];
}

/** p50 and p99 rows, each with its ratio to `reference` (the inline p50 of the same run). */
function latencyRowsAgainst(label: string, summary: LatencySummary, reference: number): ReportRow[] {
  return (['p50', 'p99'] as const).map((percentile) =>
    info(`${label} ${percentile}`, `${formatMs(summary[percentile])} (${formatRatio(summary[percentile] / reference)})`),
  );
}

const PROGRAM_LABELS: Record<Language, string> = {
  python: 'python `print(1)`',
  node: 'node `console.log(1)`',
  bash: 'bash `echo 1`',
};

export function buildReport(results: BenchResults): Report {
  const { baselines, serverProcess, roundTrips, runtimeWarm, cold, warm, deliveryModes, throughput, burst, slotMemory, threads, settings } =
    results;
  const inlineP50 = warm.python.wall.p50;
  const rawPython = baselines.bubblewrapPython.summary.p50;
  const rawNode = baselines.bubblewrapNode.summary.p50;
  const throughputRatio = throughput.perSecond / throughput.floorPerSecond;
  const baselineRows = (name: keyof BenchResults['baselines'], p50Reference?: string): ReportRow[] =>
    latencyRows(baselines[name].baseline.name, baselines[name].summary, p50Reference);
  const poolSettings =
    `at most ${settings.pool.maxSlots} ready sandboxes, ${settings.pool.maxSlotsPerKey} per pool key, ` +
    `drained after ${settings.pool.idleSeconds} s without requests`;

  const sections: ReportSection[] = [
    {
      title: '1. Raw cold baselines (no Airlock)',
      rows: [
        ...baselineRows('spawnTrue'),
        ...baselineRows('chrootPython'),
        ...baselineRows('chrootNode'),
        ...baselineRows('bubblewrapTrue', '~5.8 ms (reference)'),
        ...baselineRows('bubblewrapPython', '15-35 ms (reference)'),
        ...baselineRows('bubblewrapNode'),
      ],
      notes: [
        `Each is spawned from node and timed from spawn until it has exited, ${settings.iterations} runs after ` +
          `${settings.warmup} discarded ones, before any server starts. bwrap runs as the sandbox uid with ` +
          '`--unshare-all --unshare-user --die-with-parent --new-session --ro-bind <image rootfs> / --proc /proc --dev /dev`.',
        ...Object.values(baselines).map(({ baseline }) => `\`${baseline.name}\`: ${baseline.description}.`),
      ],
    },
    {
      title: '2. Sandbox overhead reported by the server (overhead_ms, sequential): warm pool and cold',
      rows: [
        ...LANGUAGES.flatMap((language) => [
          {
            ...atMost(`${language} overhead p50, warm`, warm[language].overhead.p50, WARM_OVERHEAD_LIMIT, formatMs),
            target: `<= ${WARM_OVERHEAD_LIMIT.text} (Baponi claims 12-18 ms)`,
          },
          info(`${language} overhead p99, warm`, formatMs(warm[language].overhead.p99)),
          info(`${language} calls served warm`, formatHits(warm[language].pool)),
          atMost(`${language} overhead p50, cold`, cold[language].overhead.p50, COLD_OVERHEAD_LIMIT, formatMs),
          info(`${language} overhead p99, cold`, formatMs(cold[language].overhead.p99)),
          info(`${language} sandbox start by the pool (refill), mean`, formatMs(warm[language].pool.meanRefillMs)),
        ]),
        ...latencyRows('python through the runtime API, no server (take -> code running), warm', runtimeWarm.overhead),
        info('python through the runtime API, calls served warm', formatHits(runtimeWarm.pool)),
        ...latencyRows('`GET /healthz`', roundTrips.health),
        ...latencyRows('authenticated `GET /v1/executions/<unknown id>` (404)', roundTrips.authenticated),
        ...latencyRows('`spawn /bin/true` from the server process', serverProcess.spawnTrue),
      ],
      notes: [
        "`overhead_ms` is the time from the server accepting the request to the code starting in the sandbox: " +
          'the python and node stubs read the monotonic clock just before they run the code and report the reading ' +
          "(the sandbox shares the host's clock), so the figure does not depend on when the server's event loop " +
          'gets to the report; bash has no clock to read, so its figure ends when the server receives the report. Warm: ' +
          'the call took a pre-started sandbox ' +
          'whose interpreter already waited for code, so sandbox creation and interpreter start-up are not in it. ' +
          'Cold: the server ran with `AIRLOCK_POOL_MAX_SLOTS=0`, so every call started bubblewrap and the ' +
          'interpreter, and the figure includes both (section 1: in a plain chroot, python starts in ' +
          `${formatMs(baselines.chrootPython.summary.p50)} and node in ${formatMs(baselines.chrootNode.summary.p50)}).`,
        'Two servers ran one after the other in the benchmark process, the cold one first, each on a fresh data ' +
          `directory, with sandboxes as host uid ${settings.sandboxUid}; the warm one had the default pool ` +
          `(${poolSettings}). ${settings.iterations} calls per language after ${settings.warmup} discarded ones, ` +
          `one at a time; after each call the client pauses ${settings.pauseMs} ms and, on the warm server, waits ` +
          "until the pool has started the call's replacement, as a client that calls less often than the pool takes " +
          "to start a sandbox would find it. Calls served warm are the pool's hits over the measured calls, from " +
          '`poolStatistics()`; a miss starts a cold sandbox.',
        'The refill mean is how long the pool took, during the series, to start a sandbox in the background until ' +
          'its interpreter waited for code: the cold start the pool moves off the request path.',
        'The runtime API series takes warm python sandboxes from a pool of its own (same settings, sandbox uid and ' +
          'pacing) in the benchmark process between the two servers, and times from taking the sandbox to the stub ' +
          "reporting that the code starts: the pool's part of a warm overhead_ms, without HTTP, authentication or " +
          'the database.',
        'The two GETs start no sandbox. `/healthz` is the HTTP stack alone; the authenticated request also checks ' +
          "the API key (from the server's cache after its first use) and looks the execution up in the database " +
          '(embedded PGlite, in a child process): one round trip. An execution makes none before its code runs; it ' +
          'writes its record while the code runs and completes it before answering.',
        '`spawn /bin/true` is measured once the cold server runs in this process: node forks the whole process to ' +
          `start any program, and its resident memory grew from ${Math.round(serverProcess.residentMiBBefore)} MiB ` +
          `to ${Math.round(serverProcess.residentMiBAfter)} MiB when the server started. Sandboxes are not started ` +
          "that way: the server's resident `airlock-spawner` (a small C process) forks them, so this is the cost, " +
          'synchronous on the event loop, that each sandbox start no longer has.',
      ],
    },
    {
      title: '3. End-to-end over HTTP, sequential (client wall time)',
      rows: [
        ...LANGUAGES.flatMap((language) => [
          ...latencyRows(`${PROGRAM_LABELS[language]}, warm`, warm[language].wall),
          ...latencyRows(`${PROGRAM_LABELS[language]}, cold`, cold[language].wall),
        ]),
        atMost('python p50 warm / raw `bwrap python3 -c` p50', warm.python.wall.p50 / rawPython, HTTP_RATIO_LIMIT, formatRatio),
        info('python p50 cold / raw `bwrap python3 -c` p50', formatRatio(cold.python.wall.p50 / rawPython)),
        {
          ...atMost('node p50 warm / raw `bwrap node -e` p50', warm.node.wall.p50 / rawNode, HTTP_RATIO_LIMIT, formatRatio),
          target: `<= ${HTTP_RATIO_LIMIT.text} (python's target)`,
        },
        info('node p50 cold / raw `bwrap node -e` p50', formatRatio(cold.node.wall.p50 / rawNode)),
        ...LANGUAGES.map((language) =>
          info(`${language} code start to exit (duration_ms) p50, warm`, formatMs(warm[language].run.p50)),
        ),
        ...LANGUAGES.flatMap((language) => [
          info(`server process CPU per ${language} call, warm`, formatCpu(warm[language])),
          info(`server process CPU per ${language} call, cold`, formatCpu(cold[language])),
        ]),
      ],
      notes: [
        'The series of section 2, over keep-alive HTTP on loopback; the client runs in the servers\' process. The ' +
          'raw sandboxes are those of section 1, measured earlier in the same run.',
        "`duration_ms` is the server's time from the code's start until its output is read and the sandbox's " +
          "processes have exited, or, for python, the interpreter has reported its exit (its teardown and the " +
          "sandbox's follow the answer): for these one-liners, mostly the interpreter's end.",
        'Server process CPU is user plus system time of that process (server and client, not the sandboxes or the ' +
          'database process) over the series, divided by the number of calls; the system part is in parentheses. ' +
          'On the warm server it includes starting the replacement sandbox of each call.',
      ],
    },
    {
      title: '4. Delivery modes: python `print(1)` inline, streamed and async, sequential, warm pool (client wall time)',
      rows: [
        ...latencyRowsAgainst('inline JSON: request sent -> whole response', warm.python.wall, inlineP50),
        ...latencyRowsAgainst('streamed (NDJSON): request sent -> `status` event', deliveryModes.streamStatus, inlineP50),
        ...latencyRowsAgainst('streamed (NDJSON): request sent -> `result` event', deliveryModes.streamResult, inlineP50),
        ...latencyRowsAgainst('async (`Prefer: respond-async`): request sent -> 202', deliveryModes.asyncAccepted, inlineP50),
        ...latencyRowsAgainst('async: request sent -> signed webhook received', deliveryModes.asyncWebhook, inlineP50),
        info('streamed and async calls served warm', formatHits(deliveryModes.pool)),
      ],
      notes: [
        `In parentheses: the figure over the inline p50 (${formatMs(inlineP50)}). Inline is the warm python series ` +
          'of sections 2 and 3, not measured again. Right after it, on the same server, come ' +
          `${settings.iterations} rounds (after ${settings.warmup} discarded) of one streamed and one async call, ` +
          "with that series' pacing. Inline ran in its own series, first on the fresh server, so a ratio near 1 is " +
          'within the drift between series: later in the run, the inline calls of section 8 without a thread (which ' +
          `also write a file) took ${formatMs(threads.ephemeral.p50)} p50.`,
        'Inline: the server runs the code, completes the execution record and answers with the whole result.',
        'Streamed `status`: `Accept: application/x-ndjson`; the first event, with the trace id, is sent once the ' +
          'code is sent to its sandbox and the running record is written (so any node finds the trace id), as the ' +
          'async 202 is.',
        'Streamed `result`: the last event, sent once the record is completed, as the inline answer is.',
        'Async 202: `Prefer: respond-async` with `webhook_url`; answered once the code runs and its record is written.',
        "Async webhook: the result POSTed by the server's webhook dispatcher (claimed from the outbox that " +
          'completing the record queues) to a `node:http` receiver on 127.0.0.1 in the benchmark process, which ' +
          'answers 204; timed when its body has arrived. Each was verified with `standardwebhooks` against the ' +
          "default sandbox config's secret (`GET /admin/v1/sandboxes/default/webhook-secret`), so each is a valid " +
          'delivery; the server allows plain http to loopback (`AIRLOCK_WEBHOOK_ALLOW_LOOPBACK=true`).',
      ],
    },
    {
      title: `5. Throughput: python at concurrency ${throughput.concurrency} for ${throughput.seconds} s, warm pool`,
      rows: [
        info(
          `CPU floor (\`${throughput.floor.name}\`, ${throughput.floorWorkers} parallel loops)`,
          formatRate(throughput.floorPerSecond),
          '~100-140/s (reference)',
        ),
        info('Airlock python executions', formatRate(throughput.perSecond)),
        {
          metric: 'Airlock / CPU floor',
          value: formatRatio(throughputRatio),
          target: `>= ${THROUGHPUT_RATIO_MINIMUM}x`,
          met: throughputRatio >= THROUGHPUT_RATIO_MINIMUM,
        },
        info('calls served warm', formatHits(throughput.pool)),
        info('sandbox start by the pool (refill), mean', formatMs(throughput.pool.meanRefillMs)),
        info('server process CPU per call', formatMs(throughput.processCpuMs)),
        info('event loop of the server process busy', formatPercent(throughput.eventLoopBusy)),
        info(`machine CPU busy (${results.facts.processors} cores)`, formatPercent(throughput.machineBusy)),
        ...latencyRows('latency under load', throughput.wall),
        { metric: 'failed requests', value: `${throughput.failed} of ${throughput.requests}`, target: '0', met: throughput.failed === 0 },
      ],
      notes: [
        `The floor runs \`${throughput.floor.name}\` (${throughput.floor.description}) in one loop per core, with no ` +
          "sandbox, for the same duration, right before the throughput run, with the warm server idle: this machine's " +
          'speed drifts within minutes, and the ratio is only as good as a floor measured next to it.',
        'Airlock is the warm server, after its sequential series and the delivery modes. A miss is a call that ' +
          'found no ready sandbox and started a cold one. Event loop busy is `performance.eventLoopUtilization()` of ' +
          'the process that runs the server and the client, over the run; machine CPU busy is from `/proc/stat`, ' +
          'every process included.',
      ],
    },
    {
      title: `6. Burst: ${burst.requests} python requests at concurrency ${burst.concurrency}, warm pool`,
      rows: [
        { metric: 'non-200 responses', value: String(burst.httpErrors), target: '0', met: burst.httpErrors === 0 },
        info('executions not `success`', String(burst.failedExecutions)),
        ...latencyRows('latency', burst.wall),
        info('calls served warm', formatHits(burst.pool)),
        info('whole burst', `${burst.elapsedSeconds.toFixed(1)} s`),
      ],
      notes: ['On the warm server, right after the throughput run.'],
    },
    {
      title: '7. Idle memory per warm slot (PSS)',
      rows: LANGUAGES.flatMap((language) => slotMemoryRows(language, slotMemory[language])),
      notes: [
        'Measured after the burst with the warm server idle, once the pool had no sandbox starting. An idle slot is ' +
          "bubblewrap's monitor, a child of the server's `airlock-spawner` (root: it joined the cgroup and reaps the " +
          `sandbox), with the sandbox's pid 1 (both \`bwrap\`, host uid ${settings.sandboxUid}) and the ` +
          'interpreter blocked in its stub below it. Its memory is the sum of the `Pss` lines of ' +
          '`/proc/<pid>/smaps_rollup` of those three processes plus its share of the spawner (the spawner\'s PSS ' +
          'divided by the sandboxes it runs); the figures are means over the slots measured.',
        'PSS (proportional set size) charges a page that n processes map 1/n to each. The interpreter binaries and ' +
          "libraries of the image (python's libpython is linked into its binary, node's is `libnode`), bubblewrap " +
          'and the spawner are file pages in the page cache, shared by every slot that ' +
          'maps them, so PSS per slot falls as slots are added, towards the anonymous part (heap, stacks, data the ' +
          'processes wrote) that no other slot shares: that part is what one more slot adds. Kernel memory (page ' +
          "tables, namespaces, the slot's cgroup and its empty tmpfs mounts) is not in PSS.",
      ],
    },
    {
      title: '8. Thread homes: restore and save',
      rows: [
        ...latencyRows('python call changing one file, no thread', threads.ephemeral),
        ...latencyRows('same call, thread with a one-file home', threads.smallHome),
        ...latencyRows('same call, thread with a 50 MiB home', threads.largeHome),
        atMost('added p50, one-file home', threads.smallHome.p50 - threads.ephemeral.p50, THREAD_ADDED_LIMIT, formatMs),
        atMost('added p50, 50 MiB home', threads.largeHome.p50 - threads.ephemeral.p50, THREAD_ADDED_LIMIT, formatMs),
      ],
      notes: [
        'On the warm server, sequential python calls that each write one 64-byte file, one call of each kind per ' +
          `round (${settings.iterations} rounds after ${settings.warmup} discarded), client wall time. The 50 MiB home ` +
          'was written once before the series (50 files of random bytes). A thread call takes the thread in the ' +
          "database, mounts its layers (kept on this node) over the sandbox's home, and after the code has run stores " +
          'the changed file and a new layer manifest in the local blob store (each written to disk with fsync), makes ' +
          "the layer on this node (hard links to the blob files, or a copy), and releases the thread with the layer " +
          'appended in the statement that records the finished execution (section 22). Once a thread has more than 8 ' +
          'layers they are merged in ' +
          'the background, which for the 50 MiB home links its files into the merged layer on this node.',
      ],
    },
  ];
  return { results, sections, summary: summarizeResults(results, sections) };
}

function formatCpu(series: SequentialSeries): string {
  return `${formatMs(series.processCpuMs)} (${formatMs(series.processSystemCpuMs)} system)`;
}

function slotMemoryRows(language: Language, memory: BenchResults['slotMemory'][Language]): ReportRow[] {
  const target = language === 'python' ? `<= ${SLOT_MEMORY_LIMIT.text}` : '—';
  const { summary } = memory;
  if (!summary) {
    return [{ metric: `${language} PSS per idle slot`, value: 'no idle slot found', target, met: undefined }];
  }
  const total =
    language === 'python'
      ? atMost(`${language} PSS per idle slot`, summary.totalKiB, SLOT_MEMORY_LIMIT, formatMiBAndKiB)
      : info(`${language} PSS per idle slot`, formatMiB(summary.totalKiB));
  return [
    total,
    info(`${language} slots measured`, `${summary.slots} (the pool reported ${memory.readySlots} ready)`),
    info(
      `${language} split: interpreter / bubblewrap (2 processes) / share of the spawner`,
      [summary.interpreterKiB, summary.bubblewrapKiB, summary.spawnerShareKiB].map(formatMiB).join(' / '),
    ),
    info(`${language} anonymous part (what one more slot adds)`, formatMiB(summary.anonymousKiB)),
  ];
}
