import { ExecuteRequest, SANDBOX_STARTS, type ExecuteRequestInput } from '@airlock/contracts';
import { ExecutionRepository, IdempotencyKeyTakenError, ThreadRepository, WebhookRepository, type Database } from '@airlock/db';
import { SANDBOX_STARTS as RUNTIME_SANDBOX_STARTS, type AcquiredSandbox, type PoolKey, type PreparedSandbox, type RunRequest, type SandboxOutcome } from '@airlock/runtime';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestDatabase } from '../../test-support/test-tenant.js';
import type { Principal } from '../auth/api-key-service.js';
import { RateLimits } from '../auth/rate-limits.js';
import { silentLogger } from '../shared/logger.js';
import { ServerMetrics } from '../shared/metrics.js';
import { LiveExecutions } from './execution-log.js';
import { ExecutionService } from './execution-service.js';
import { readIdempotency } from './idempotency.js';
import { RECORD_DELAY_MS } from './record-writer.js';
import type { ThreadLease } from '../threads/thread-service.js';

/** A sandbox that runs nothing: it answers each call with what `script` makes of the code. */
class ScriptedSandbox implements PreparedSandbox {
  readonly language = 'python' as const;
  readonly ready = Promise.resolve();
  readonly codeStarted = Promise.resolve();
  readonly isAlive = true;

  constructor(private readonly script: (request: RunRequest) => Promise<Partial<SandboxOutcome>>) {}

  async attachLayers(): Promise<string> {
    return '/changes';
  }
  async attachStorage(): Promise<void> {}

  async run(request: RunRequest): Promise<SandboxOutcome> {
    const started = performance.now();
    const outcome = await this.script(request);
    if (outcome.stdout) request.onStdout?.(Buffer.from(outcome.stdout));
    await request.afterExit?.();
    return {
      status: 'success',
      exitCode: 0,
      stdout: '',
      stderr: '',
      stdoutTruncated: false,
      stderrTruncated: false,
      codeStartedAt: started,
      runMs: performance.now() - started,
      peakMemoryBytes: 1024,
      cpuTimeMs: 1,
      network: null,
      ...outcome,
    } as SandboxOutcome;
  }

  async destroy(): Promise<void> {}
}

let testDatabase: Awaited<ReturnType<typeof startTestDatabase>>;
let database: Database;
let principal: Principal;
let executions: ExecutionRepository;
let script: (request: RunRequest) => Promise<Partial<SandboxOutcome>> = async () => ({});
let startFails = false;
/** What the last sandbox was acquired with. */
let acquiredWith: PoolKey | undefined;
/** What saving a thread's changes does: returns the layer digest, or throws. */
let save: () => Promise<string | null> = async () => null;
let threads: ThreadRepository;

function service(): ExecutionService {
  return new ExecutionService({
    runtime: {
      languages: () => ['python', 'bash'],
      acquire: async (options): Promise<AcquiredSandbox> => {
        acquiredWith = options;
        if (startFails) throw new Error('bubblewrap exited with 1');
        return { sandbox: new ScriptedSandbox((request) => script(request)), warm: true };
      },
    },
    executions,
    logger: silentLogger,
    metrics: new ServerMetrics({ poolStatistics: () => null, activeSandboxes: () => 0 }),
    threads: {
      expectedLowerDirectories: () => undefined,
      // The thread lock is the real one; restoring and saving layers is scripted.
      begin: async (principal, threadId, traceId): Promise<ThreadLease> => {
        const orgId = principal.organization.id;
        const layers = await threads.acquire({ orgId, threadId, traceId, nodeId: 'node_test', retention: 'forever' });
        if (layers === null) throw new Error(`thread ${threadId} is busy`);
        return {
          thread: { orgId, threadId },
          lowerDirectories: [],
          save: () => save(),
          completed: () => undefined,
          release: async () => void (await threads.release({ orgId, threadId, traceId })),
        };
      },
    },
    live: new LiveExecutions(),
    rateLimits: new RateLimits({ requestsPerMinute: 1000, concurrentExecutionsPerOrganization: 10 }),
    nodeId: 'node_test',
    webhooks: { deliveries: new WebhookRepository(database), onQueued: () => undefined },
  });
}

const request = (input: ExecuteRequestInput) => ExecuteRequest.parse(input);
const countExecutions = async () => (await database.query<{ count: number }>('SELECT count(*) AS count FROM executions'))[0]?.count;

beforeAll(async () => {
  testDatabase = await startTestDatabase();
  database = testDatabase.database;
  executions = new ExecutionRepository(database);
  threads = new ThreadRepository(database);
  principal = await testDatabase.principal({ maxTimeoutSeconds: 120, sandboxEnv: { FROM: 'config' }, keyEnv: { FROM: 'key', KEY_ONLY: '1' } });
});

afterAll(async () => {
  await testDatabase?.close();
});

describe('ExecutionService (a scripted runtime on PGlite)', () => {
  it('runs the code once, answers what it records, and the environment chain resolves request > key > config', async () => {
    let seen: RunRequest | undefined;
    script = async (run) => ((seen = run), { stdout: 'hello\n', exitCode: 0 });
    const answer = await service().execute(principal, request({ code: 'print("hello")', env_vars: { FROM: 'request' }, metadata: { job: '7' } }), { acceptedAt: performance.now() });
    expect(answer).toMatchObject({ success: true, stdout: 'hello\n', exit_code: 0, status: 'success', error: null });
    expect(seen?.env).toEqual({ FROM: 'request', KEY_ONLY: '1' });
    expect(seen?.timeoutMs).toBe(60_000);
    const record = await executions.get(principal.organization.id, answer.trace_id);
    expect(record).toMatchObject({ status: 'success', stdout: 'hello\n', exitCode: 0, metadata: { job: '7' }, deliveryMode: 'inline', warm: true });
  });

  it("a non-zero exit and a timeout are results with their error codes, not exceptions", async () => {
    script = async () => ({ status: 'failed', exitCode: 3, stderr: 'boom\n' });
    expect(await service().execute(principal, request({ code: 'x' }), { acceptedAt: performance.now() })).toMatchObject({
      success: false,
      exit_code: 3,
      status: 'failed',
      error: null,
      stderr: 'boom\n',
    });
    script = async () => ({ status: 'timeout', exitCode: 137 });
    expect(await service().execute(principal, request({ code: 'x', timeout: 1 }), { acceptedAt: performance.now() })).toMatchObject({
      success: false,
      exit_code: 137,
      status: 'timeout',
      error: 'timeout',
    });
  });

  it('an inline call that ends within RECORD_DELAY_MS is recorded once, with its result; a longer one is recorded running while it runs', async () => {
    const insertRunning = vi.spyOn(executions, 'insertRunning');
    const insertFinished = vi.spyOn(executions, 'insertFinished');
    try {
      script = async () => ({ stdout: 'quick\n' });
      const quick = await service().execute(principal, request({ code: 'quick' }), { acceptedAt: performance.now() });
      expect([insertRunning.mock.calls.length, insertFinished.mock.calls.length]).toEqual([0, 1]);
      expect(await executions.get(principal.organization.id, quick.trace_id)).toMatchObject({ status: 'success', stdout: 'quick\n', deliveryMode: 'inline' });

      const statusOf = async (code: string) => (await database.query<{ status: string }>('SELECT status FROM executions WHERE code = $1', [code])).map((row) => row.status);
      let whileRunning: string[] = [];
      script = async () => {
        await new Promise((resolve) => setTimeout(resolve, RECORD_DELAY_MS + 200));
        whileRunning = await statusOf('slow');
        return { stdout: 'slow\n' };
      };
      const slow = await service().execute(principal, request({ code: 'slow' }), { acceptedAt: performance.now() });
      expect(whileRunning).toEqual(['running']);
      expect([insertRunning.mock.calls.length, insertFinished.mock.calls.length]).toEqual([1, 1]);
      expect(await executions.get(principal.organization.id, slow.trace_id)).toMatchObject({ status: 'success', stdout: 'slow\n' });

      // A call whose trace id its caller learns before the answer (a stream) is recorded while it runs, however short.
      script = async () => ({ stdout: 'streamed\n' });
      let recordedAtStart: unknown;
      await service().execute(principal, request({ code: 'streamed' }), {
        acceptedAt: performance.now(),
        answer: { mode: 'streaming', onStarted: (log) => void executions.get(principal.organization.id, log.traceId).then((found) => (recordedAtStart = found)) },
      });
      expect([insertRunning.mock.calls.length, insertFinished.mock.calls.length]).toEqual([2, 1]);
      await vi.waitFor(() => expect(recordedAtStart).toMatchObject({ code: 'streamed' }));
    } finally {
      insertRunning.mockRestore();
      insertFinished.mockRestore();
    }
  });

  it("refuses a timeout over the organization's plan and a language the image lacks, recording nothing", async () => {
    const before = await countExecutions();
    await expect(service().execute(principal, request({ code: 'x', timeout: 300 }), { acceptedAt: performance.now() })).rejects.toMatchObject({
      code: 'validation_error',
      message: expect.stringMatching(/^timeout: at most 120 seconds on this organization's plan/),
    });
    await expect(service().execute(principal, request({ code: 'x', language: 'node' }), { acceptedAt: performance.now() })).rejects.toMatchObject({
      code: 'validation_error',
      message: 'language: "node" is not available in image "default" (available: python, bash)',
    });
    expect(await countExecutions()).toBe(before);
  });

  it('a sandbox that cannot start is 503 unavailable and nothing is recorded', async () => {
    const before = await countExecutions();
    startFails = true;
    try {
      await expect(service().execute(principal, request({ code: 'x' }), { acceptedAt: performance.now() })).rejects.toMatchObject({ code: 'unavailable' });
    } finally {
      startFails = false;
    }
    expect(await countExecutions()).toBe(before);
  });

  it('cancel stops a running execution and answers cancelled once it has ended; a finished one answers its status', async () => {
    const executionService = service();
    let traceId = '';
    script = (run) =>
      new Promise((resolve) => run.signal?.addEventListener('abort', () => resolve({ status: 'cancelled', exitCode: 137 })));
    const running = executionService.execute(principal, request({ code: 'sleep' }), {
      acceptedAt: performance.now(),
      answer: { mode: 'streaming', onStarted: (log) => (traceId = log.traceId) },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await executionService.cancel(principal.organization.id, traceId)).toEqual({ trace_id: traceId, status: 'cancelled' });
    expect(await running).toMatchObject({ status: 'cancelled', exit_code: 137, error: 'cancelled' });
    expect(await executionService.cancel(principal.organization.id, traceId)).toEqual({ trace_id: traceId, status: 'cancelled' });
  });

  it('a saved thread layer is appended when the record completes; a failed save is status failed on the record and the answer alike', async () => {
    const layer = 'a'.repeat(64);
    script = async () => ({ stdout: 'ran\n', exitCode: 0 });
    save = async () => layer;
    const saved = await service().execute(principal, request({ code: 'x', thread_id: 'saves' }), { acceptedAt: performance.now() });
    expect(saved).toMatchObject({ success: true, status: 'success', error: null });
    expect(await threads.get(principal.organization.id, 'saves')).toMatchObject({ layers: [layer], busyTraceId: null });

    save = async () => {
      throw new Error('ENOSPC: no space left on device');
    };
    const failed = await service().execute(principal, request({ code: 'x', thread_id: 'saves' }), { acceptedAt: performance.now() });
    expect(failed).toMatchObject({ success: false, status: 'failed', exit_code: 0, stdout: 'ran\n', error: 'thread_save_error' });
    expect(failed.error_message).toMatch(/could not be saved.*the thread is unchanged/);
    expect(await executions.get(principal.organization.id, failed.trace_id)).toMatchObject({ status: 'failed', errorCode: 'thread_save_error', exitCode: 0, stdout: 'ran\n' });
    expect(await threads.get(principal.organization.id, 'saves')).toMatchObject({ layers: [layer], busyTraceId: null });
    save = async () => null;
  });

  it('a thread call is recorded once when it ends within RECORD_DELAY_MS, running when longer; a lapsed hold is on the record either way', async () => {
    const insertRunning = vi.spyOn(executions, 'insertRunning');
    const orgId = principal.organization.id;
    const layer = 'b'.repeat(64);
    save = async () => layer;
    try {
      script = async () => ({ stdout: 'quick\n' });
      await service().execute(principal, request({ code: 'x', thread_id: 'lapses' }), { acceptedAt: performance.now() });
      expect(insertRunning).not.toHaveBeenCalled();
      expect(await threads.get(orgId, 'lapses')).toMatchObject({ layers: [layer], busyTraceId: null });

      for (const runMs of [0, RECORD_DELAY_MS + 100]) {
        // Another execution takes the thread over while this one runs.
        script = async () => {
          await new Promise((resolve) => setTimeout(resolve, runMs));
          await database.query(`UPDATE threads SET busy_trace_id = 'trc_other' WHERE org_id = $1 AND thread_id = 'lapses'`, [orgId]);
          return { stdout: 'lapsed\n' };
        };
        const lapsed = await service().execute(principal, request({ code: 'x', thread_id: 'lapses' }), { acceptedAt: performance.now() });
        expect(lapsed, `${runMs} ms`).toMatchObject({ status: 'failed', error: 'thread_save_error', stdout: 'lapsed\n' });
        expect(await executions.get(orgId, lapsed.trace_id), `${runMs} ms`).toMatchObject({ status: 'failed', errorCode: 'thread_save_error', threadId: 'lapses' });
        expect(await threads.get(orgId, 'lapses'), `${runMs} ms`).toMatchObject({ layers: [layer], busyTraceId: 'trc_other' });
        await database.query(`UPDATE threads SET busy_trace_id = NULL, busy_node_id = NULL, busy_since = NULL WHERE org_id = $1 AND thread_id = 'lapses'`, [orgId]);
      }
      expect(insertRunning).toHaveBeenCalledTimes(1);
    } finally {
      insertRunning.mockRestore();
      save = async () => null;
    }
  });

  it('with an idempotency key the record exists before the code runs, and a concurrent request with the key runs nothing', async () => {
    const idempotency = readIdempotency('retry-1', principal, request({ code: 'once' }));
    let runs = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let recordedBeforeRun: unknown;
    script = async (run) => {
      runs++;
      recordedBeforeRun = await executions.findByIdempotencyKey(principal.organization.id, 'retry-1');
      await gate;
      return { stdout: `${run.code}\n` };
    };
    const first = service().execute(principal, request({ code: 'once' }), { acceptedAt: performance.now(), idempotency });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = await countExecutions();
    await expect(service().execute(principal, request({ code: 'once' }), { acceptedAt: performance.now(), idempotency })).rejects.toBeInstanceOf(
      IdempotencyKeyTakenError,
    );
    expect(await countExecutions()).toBe(before);
    release();
    const answer = await first;
    expect(runs).toBe(1);
    expect(recordedBeforeRun).toMatchObject({ traceId: answer.trace_id, status: 'running' });
    expect(await service().earlierAttempt(principal, idempotency!)).toMatchObject({ traceId: answer.trace_id, status: 'success' });
    await expect(service().earlierAttempt(principal, readIdempotency('retry-1', principal, request({ code: 'other' }))!)).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
  });

  it("runs in the network of the key: an allowlist takes an allowlist slot and binds the key's list to the run", async () => {
    const allowlisted: Principal = {
      ...principal,
      sandboxConfig: { ...principal.sandboxConfig, network: 'allowlist', networkAllow: ['api.example.com', '*.pypi.org'] },
      apiKey: { ...principal.apiKey, networkOverride: 'allowlist', networkAllow: ['files.pypi.org', 'other.example.com'] },
    };
    let seen: RunRequest | undefined;
    script = async (run) => ((seen = run), {});
    const answer = await service().execute(allowlisted, request({ code: 'x' }), { acceptedAt: performance.now() });
    expect(acquiredWith?.network).toBe('allowlist');
    // The key's entries the config no longer covers are dropped.
    expect(seen?.networkAllowlist).toEqual(['files.pypi.org']);
    expect(await executions.get(principal.organization.id, answer.trace_id)).toMatchObject({ networkMode: 'allowlist', networkAllow: ['files.pypi.org'] });
    expect(await service().get(allowlisted.organization.id, answer.trace_id)).toMatchObject({ network_mode: 'allowlist', network_allow: ['files.pypi.org'] });

    const blocked = await service().execute(principal, request({ code: 'x' }), { acceptedAt: performance.now() });
    expect(acquiredWith?.network).toBe('none');
    expect(seen).not.toHaveProperty('networkAllowlist');
    expect(await service().get(principal.organization.id, blocked.trace_id)).toMatchObject({ network_mode: 'blocked', network_allow: null });
  });

  it("acquires a sandbox that starts as its config says ('fresh' or 'fork', the runtime's values)", async () => {
    expect(SANDBOX_STARTS).toEqual(RUNTIME_SANDBOX_STARTS);
    await service().execute(principal, request({ code: 'x' }), { acceptedAt: performance.now() });
    expect(acquiredWith?.start).toBe('fresh');
    const forking: Principal = { ...principal, sandboxConfig: { ...principal.sandboxConfig, start: 'fork' } };
    await service().execute(forking, request({ code: 'x' }), { acceptedAt: performance.now() });
    expect(acquiredWith?.start).toBe('fork');
  });
});
