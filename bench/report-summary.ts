import { LANGUAGES, type Language } from '@airlock/contracts';
import { hitRate, type PoolCounts } from './pool-probe.js';
import type { BenchResults, ReportSection } from './report.js';
import { COLD_OVERHEAD_LIMIT, HTTP_RATIO_LIMIT, SLOT_MEMORY_LIMIT, THROUGHPUT_RATIO_MINIMUM, WARM_OVERHEAD_LIMIT } from './targets.js';
import { formatMiB, formatMiBAndKiB, formatMs, formatPercent, formatRate, formatRatio } from './units.js';

/** Utilization (of the event loop or of the cores) from which a resource counts as saturated. */
const SATURATED = 0.9;
/** A measured value this close to its limit (as a share of the limit) meets or misses it by chance. */
const NEAR_LIMIT = 0.05;

/** "python 0.80 ms, node 0.90 ms and bash 0.70 ms". */
function perLanguage(value: (language: Language) => string): string {
  const parts = LANGUAGES.map((language) => `${language} ${value(language)}`);
  return `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

function sumPools(pools: PoolCounts[]): PoolCounts {
  return pools.reduce(
    (sum, pool) => ({ hits: sum.hits + pool.hits, misses: sum.misses + pool.misses, refills: 0, meanRefillMs: 0 }),
    { hits: 0, misses: 0, refills: 0, meanRefillMs: 0 },
  );
}

/** The paragraph under "What the numbers mean": what was measured against each target, and why it lands there. */
export function summarizeResults(results: BenchResults, sections: ReportSection[]): string {
  const { baselines, roundTrips, runtimeWarm, cold, warm, deliveryModes, throughput, burst, slotMemory, facts, settings } = results;
  const rows = sections.flatMap((section) => section.rows);
  const missed = rows.filter((row) => row.met === false).map((row) => row.metric);
  const met = rows.filter((row) => row.met === true).map((row) => row.metric);
  const warmHits = sumPools(LANGUAGES.map((language) => warm[language].pool));
  const warmMet = LANGUAGES.every((language) => warm[language].overhead.p50 <= WARM_OVERHEAD_LIMIT.value);
  const pythonRatio = warm.python.wall.p50 / baselines.bubblewrapPython.summary.p50;
  const nodeRatio = warm.node.wall.p50 / baselines.bubblewrapNode.summary.p50;
  const throughputRatio = throughput.perSecond / throughput.floorPerSecond;
  const python = slotMemory.python.summary;

  const sentences = [
    `With the warm pool, ${formatPercent(hitRate(warmHits))} of the sequential calls found a ready sandbox, and ` +
      `their code ran ${perLanguage((language) => formatMs(warm[language].overhead.p50))} (p50) after the request ` +
      `was accepted, ${warmMet ? 'within' : 'against'} the ${WARM_OVERHEAD_LIMIT.text} target. ` +
      (warmMet
        ? ''
        : "The pool's own part is small: through the runtime API, without a server, a warm python sandbox has its " +
          `code running ${formatMs(runtimeWarm.overhead.p50)} p50 (${formatMs(runtimeWarm.overhead.p99)} p99) after ` +
          `it is taken${runtimeWarm.overhead.p50 > WARM_OVERHEAD_LIMIT.value ? ', itself above the target' : ''}. ` +
          "The rest is the server's request path before the code is sent: HTTP parsing and routing, the API key " +
          "(from the server's in-memory cache after the key's first call, so no database round trip), reading and " +
          'validating the body; the execution record is written while the code already runs. For scale, ' +
          `\`/healthz\` takes ${formatMs(roundTrips.health.p50)} p50 end to end on this server, and an ` +
          `authenticated request that starts no sandbox but reads the database ${formatMs(roundTrips.authenticated.p50)}.`),
    `With the pool off, every call is cold: overhead p50 is ${perLanguage((language) => formatMs(cold[language].overhead.p50))}, ` +
      'as a cold call pays for bubblewrap ' +
      `(${formatMs(baselines.bubblewrapTrue.summary.p50)} p50 on its own, of which ` +
      `${formatMs(baselines.spawnTrue.summary.p50)} is node spawning any process) and for interpreter start-up ` +
      `(python ${formatMs(baselines.chrootPython.summary.p50)} and node ${formatMs(baselines.chrootNode.summary.p50)} ` +
      "in a plain chroot), on top of the server's request path" +
      (Math.min(baselines.chrootPython.summary.p50, baselines.chrootNode.summary.p50) > COLD_OVERHEAD_LIMIT.value
        ? `; the ${COLD_OVERHEAD_LIMIT.text} cold target is below what python or node start-up alone costs here.`
        : '.'),
    `End to end, python \`print(1)\` takes ${formatMs(warm.python.wall.p50)} warm, ${formatRatio(pythonRatio)} a raw ` +
      `cold \`bwrap python3\` (${formatMs(baselines.bubblewrapPython.summary.p50)}) measured in this run ` +
      `(target ${HTTP_RATIO_LIMIT.text}): besides the overhead, the call waits ${formatMs(warm.python.run.p50)} ` +
      '(duration_ms p50) until the code has ended and the interpreter reports its exit, then reads the cgroup accounting and ' +
      'updates the execution record in the database before it answers. Node is at ' +
      `${formatRatio(nodeRatio)}${nodeRatio < pythonRatio ? ', lower only because its raw start-up is so slow' : ''}.`,
    `Streamed, the same call's \`status\` event arrives ${formatMs(deliveryModes.streamStatus.p50)} and its ` +
      `\`result\` ${formatMs(deliveryModes.streamResult.p50)} after the request (p50; ` +
      `${formatRatio(deliveryModes.streamResult.p50 / warm.python.wall.p50)} the inline ${formatMs(warm.python.wall.p50)}); ` +
      `async, the 202 comes after ${formatMs(deliveryModes.asyncAccepted.p50)} and the signed webhook after ` +
      `${formatMs(deliveryModes.asyncWebhook.p50)}` +
      (deliveryModes.asyncWebhook.p50 > warm.python.wall.p50
        ? `, ${formatMs(deliveryModes.asyncWebhook.p50 - warm.python.wall.p50)} more than the inline answer: once ` +
          'the record is completed, the dispatcher claims the delivery in one statement that also reads the record ' +
          'and the sealed signing secret, then signs the body and POSTs it on the connection kept from the previous ' +
          'delivery.'
        : '.'),
    `At concurrency ${throughput.concurrency} the warm server sustains ${formatRate(throughput.perSecond)} python ` +
      `executions, ${formatRatio(throughputRatio)} the CPU floor of ${formatRate(throughput.floorPerSecond)} ` +
      `(target ${THROUGHPUT_RATIO_MINIMUM}x), with ${formatPercent(hitRate(throughput.pool))} of the calls warm` +
      (hitRate(throughput.pool) < 0.9
        ? `: under that load the pool took ${formatMs(throughput.pool.meanRefillMs)} on average to start a ` +
          'replacement, so it could not start sandboxes as fast as the calls took them, and the others started cold. '
        : '. ') +
      'The pool takes sandbox start-up off the request path, not off the CPU: every execution still starts a ' +
      'sandbox and an interpreter, only earlier. During the run the server process spent ' +
      `${formatMs(throughput.processCpuMs)} of CPU per call (sequentially, ${formatMs(warm.python.processCpuMs)}, ` +
      `${formatMs(warm.python.processSystemCpuMs)} of it in the kernel: HTTP at both ends, as the client runs in ` +
      'the same process, the database client, cgroup and pipe set-up), and its ' +
      `event loop was busy ${formatPercent(throughput.eventLoopBusy)} of the time` +
      ` while the ${facts.processors} cores were ${formatPercent(throughput.machineBusy)} busy` +
      (throughput.eventLoopBusy < SATURATED
        ? '.'
        : throughput.machineBusy < SATURATED
          ? ': that one process is the limit, not the cores or the pool.'
          : ": the server's event loop and the cores are both saturated, and the server's own CPU per call is " +
            "taken from the sandboxes'."),
    `The burst of ${burst.requests} requests at concurrency ${burst.concurrency} had ${burst.httpErrors} non-200 ` +
      `responses, p50 ${formatMs(burst.wall.p50)} and p99 ${formatMs(burst.wall.p99)}, with ` +
      `${formatPercent(hitRate(burst.pool))} of the calls warm` +
      (hitRate(burst.pool) < 0.9
        ? `: the pool keeps at most ${settings.pool.maxSlotsPerKey} ready sandboxes per key, and its refills ` +
          'compete with the burst for the same cores, so once those are taken most calls start cold.'
        : '.'),
    python
      ? `An idle python slot holds ${formatMiBAndKiB(python.totalKiB)} PSS with ` +
        `${python.slots} python slots ready (interpreter ${formatMiB(python.interpreterKiB)}, bubblewrap ` +
        `${formatMiB(python.bubblewrapKiB)}, share of the spawner ` +
        `${formatMiB(python.spawnerShareKiB)}), ` +
        (Math.abs(python.totalKiB - SLOT_MEMORY_LIMIT.value) < SLOT_MEMORY_LIMIT.value * NEAR_LIMIT
          ? `right at the ${SLOT_MEMORY_LIMIT.text} target (${SLOT_MEMORY_LIMIT.value} KiB): whether it lands just ` +
            "below or just above depends on how many ready slots share the image's file pages, as fewer push it up " +
            'and more bring it down'
          : `${python.totalKiB <= SLOT_MEMORY_LIMIT.value ? 'within' : 'above'} the ${SLOT_MEMORY_LIMIT.text} target`) +
        `; ${formatMiB(python.anonymousKiB)} of it is anonymous memory that no ` +
        'other slot shares, ' +
        (python.anonymousKiB > SLOT_MEMORY_LIMIT.value
          ? 'so no number of slots sharing the image brings it under the target.'
          : 'the floor that more slots sharing the image approach.')
      : 'No idle python slot was found to measure.',
    met.length > 0 ? `Met: ${met.join('; ')}.` : '',
    missed.length > 0 ? `Missed: ${missed.join('; ')}.` : 'Every target with a threshold is met.',
  ];
  return sentences.filter((sentence) => sentence !== '').join(' ');
}
