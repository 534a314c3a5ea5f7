import type { ExecuteAcceptedResponse, ExecutionEvent } from '@airlock/contracts';
import type { BenchServer } from './airlock-server.js';
import { postExecute } from './http-load.js';
import { summarize, type LatencySummary } from './percentiles.js';
import { countingPool, pauseUntilWarm, type PoolCounts } from './pool-probe.js';
import { PYTHON_REQUEST, progress } from './server-runs.js';
import { formatMs } from './units.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

/** How long an async call waits for its webhook before the run fails. */
const WEBHOOK_TIMEOUT_MS = 30_000;

/** Sequential python `print(1)` calls in the two delivery modes besides inline JSON, on the warm server. */
export interface DeliverySeries {
  /** `Accept: application/x-ndjson`: request sent -> first event (`status`, with the trace id) read. */
  streamStatus: LatencySummary;
  /** The same calls: request sent -> `result` event read. */
  streamResult: LatencySummary;
  /** `Prefer: respond-async` with `webhook_url`: request sent -> 202 read. */
  asyncAccepted: LatencySummary;
  /** The same calls: request sent -> signed webhook received by the loopback receiver (verified after). */
  asyncWebhook: LatencySummary;
  /** What the pool did during the measured calls of both modes. */
  pool: PoolCounts;
}

/** The default sandbox config's webhook signing secret, read with the admin token. */
async function readWebhookSecret(server: BenchServer): Promise<string> {
  const path = '/admin/v1/sandboxes/default/webhook-secret';
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${path} answered HTTP ${response.status}: ${text}`);
  return (JSON.parse(text) as { secret: string }).secret;
}

/** One streamed call: when its first event and its `result` event were read, after the request was sent. */
async function streamOnce(server: BenchServer): Promise<{ statusMs: number; resultMs: number }> {
  const startedAt = performance.now();
  const response = await postExecute(server, PYTHON_REQUEST, { accept: 'application/x-ndjson' });
  if (response.status !== 200 || !response.body) {
    throw new Error(`the streamed execution answered HTTP ${response.status}: ${await response.text()}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let statusMs: number | undefined;
  let resultMs: number | undefined;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    const readMs = performance.now() - startedAt;
    buffered += decoder.decode(chunk.value, { stream: true });
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines.filter((text) => text !== '')) {
      const event = JSON.parse(line) as ExecutionEvent;
      if (statusMs === undefined) {
        if (event.type !== 'status') throw new Error(`the stream began with a ${event.type} event, not status: ${line}`);
        statusMs = readMs;
      }
      if (event.type === 'result') {
        if (event.status !== 'success') throw new Error(`the streamed execution ended ${event.status}: ${line}`);
        resultMs = readMs;
      }
    }
  }
  if (statusMs === undefined || resultMs === undefined) throw new Error('the stream ended without a status and a result event');
  return { statusMs, resultMs };
}

/** One async call: when its 202 was read, and when its signed webhook arrived, after the request was sent. */
async function respondAsyncOnce(server: BenchServer, receiver: WebhookReceiver): Promise<{ acceptedMs: number; webhookMs: number }> {
  const startedAt = performance.now();
  const response = await postExecute(server, { ...PYTHON_REQUEST, webhook_url: receiver.url }, { prefer: 'respond-async' });
  const text = await response.text();
  const acceptedMs = performance.now() - startedAt;
  if (response.status !== 202) throw new Error(`the async execution answered HTTP ${response.status}, expected 202: ${text}`);
  const accepted = JSON.parse(text) as ExecuteAcceptedResponse;
  const webhook = await receiver.next(accepted.trace_id, WEBHOOK_TIMEOUT_MS);
  if (webhook.payload.status !== 'success') {
    throw new Error(`the async execution ${accepted.trace_id} ended ${webhook.payload.status}: ${JSON.stringify(webhook.payload)}`);
  }
  return { acceptedMs, webhookMs: webhook.receivedAt - startedAt };
}

/**
 * Sequential python calls streamed and answered asynchronously, one of each per round (so a change in the machine's
 * load touches both alike), with the warm series' pacing. Webhooks go to a receiver on loopback in this process that
 * verifies each signature with the default sandbox config's secret.
 */
export async function measureDeliveryModes(
  server: BenchServer,
  counts: { warmup: number; iterations: number },
): Promise<DeliverySeries> {
  progress(`delivery modes: ${counts.iterations} rounds of a streamed and an async (webhook) python call`);
  const receiver = await startWebhookReceiver(await readWebhookSecret(server));
  try {
    const between = (): Promise<void> => pauseUntilWarm(server, 'python');
    const round = async (): Promise<{ statusMs: number; resultMs: number; acceptedMs: number; webhookMs: number }> => {
      const streamed = await streamOnce(server);
      await between();
      const answered = await respondAsyncOnce(server, receiver);
      await between();
      return { ...streamed, ...answered };
    };
    for (let run = 0; run < counts.warmup; run++) await round();
    const { result: rounds, pool } = await countingPool(server, async () => {
      const measured = [];
      for (let run = 0; run < counts.iterations; run++) measured.push(await round());
      return measured;
    });
    const series = {
      streamStatus: summarize(rounds.map((sample) => sample.statusMs)),
      streamResult: summarize(rounds.map((sample) => sample.resultMs)),
      asyncAccepted: summarize(rounds.map((sample) => sample.acceptedMs)),
      asyncWebhook: summarize(rounds.map((sample) => sample.webhookMs)),
      pool,
    };
    progress(
      `  streamed: status p50 ${formatMs(series.streamStatus.p50)}, result p50 ${formatMs(series.streamResult.p50)}; ` +
        `async: 202 p50 ${formatMs(series.asyncAccepted.p50)}, webhook p50 ${formatMs(series.asyncWebhook.p50)}`,
    );
    return series;
  } finally {
    await receiver.close();
  }
}
