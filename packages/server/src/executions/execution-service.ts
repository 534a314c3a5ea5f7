import {
  ErrorCode,
  ExecuteRequest,
  type ExecuteResponse,
  type ExecutionErrorCode,
  type ExecutionCancelResponse,
  type ExecutionRecordResponse,
  type NetworkPolicy,
  type NetworkReceiptEntry,
  type StorageSync,
} from '@airlock/contracts';
import { NEVER_RAN_EXIT_CODE, generateId, type Execution, type ExecutionRepository, type ExecutionResult, type NewExecution, type SandboxConfig, type WebhookRepository } from '@airlock/db';
import {
  LayerManifestError,
  SandboxStartError,
  type NetworkFlow,
  type PreparedSandbox,
  type SandboxLimits,
  type SandboxOutcome,
  type SandboxRuntime,
} from '@airlock/runtime';
import { BlobStoreUnavailableError, resolveSubPaths } from '@airlock/storage';
import type { CallStorage, StorageForCalls } from '../storage/call-storage.js';
import { connectorInjection, connectorSlotNetwork, withConnectorVariables, type ConnectorInjection } from '../connectors/connector-injection.js';
import type { ConnectorService } from '../connectors/connector-service.js';
import { OutputRedaction } from '../connectors/output-redaction.js';
import { ApiError } from '../shared/api-error.js';
import type { WebAdmission } from '../web/web-gateway.js';
import type { WebTools } from '../web/web-tools.js';
import { networkOf, type Principal } from '../auth/api-key-service.js';
import { isFinished, recordedResponse, toExecuteResponse, toRecordResponse, type FinishedExecution } from './execution-records.js';
import type { Logger } from '../shared/logger.js';
import type { ServerMetrics } from '../shared/metrics.js';
import type { ExecutionLog, LiveExecutions } from './execution-log.js';
import { RecordWriter } from './record-writer.js';
import type { RateLimits } from '../auth/rate-limits.js';
import type { ThreadLease, ThreadService } from '../threads/thread-service.js';
import type { Idempotency } from './idempotency.js';
import type { OtherNodes } from '../nodes/other-nodes.js';

const MEBIBYTE = 1024 * 1024;
const PIDS_PER_SANDBOX = 512;
/** How long a cancel waits for the execution to end before it answers `cancelling`. */
const CANCEL_WAIT_MS = 5000;

export interface ExecutionServiceOptions {
  /** The sandbox runtime: the languages of an image, and a sandbox for a call. */
  runtime: Pick<SandboxRuntime, 'languages' | 'acquire'>;
  executions: ExecutionRepository;
  logger: Logger;
  metrics: ServerMetrics;
  /** Threads: a call with thread_id takes its thread and attaches its home. */
  threads: Pick<ThreadService, 'begin' | 'expectedLowerDirectories'>;
  live: LiveExecutions;
  rateLimits: RateLimits;
  /** Identifies this server process in execution records. */
  nodeId: string;
  webhooks: {
    deliveries: WebhookRepository;
    /** Called when a finished execution has queued its webhook delivery. */
    onQueued: () => void;
  };
  /** Storage at /data: the mounts of a call. Without it no call has storage. */
  storage?: Pick<StorageForCalls, 'open'>;
  /** Connectors: the credentials of a call. Without it no call has connectors. */
  connectors?: Pick<ConnectorService, 'forCall'>;
  /** The web tools: a call whose policy allows them gets a token for the web gateway. Without it no call has them. */
  web?: Pick<WebTools, 'admit'>;
  /** The other server nodes: cancels and live output of executions running there. Without it, one node alone. */
  otherNodes?: Pick<OtherNodes, 'cancel' | 'output'>;
}

/**
 * How the caller receives the answer (stored as the record's `delivery_mode`); not to be confused with a webhook
 * delivery, the outbox row that sends a result.
 */
export type ResponseMode =
  | { mode: 'inline' }
  /** `onStarted` gets the live log once the execution is recorded and its code sent to its sandbox. */
  | { mode: 'streaming'; onStarted: (log: ExecutionLog) => void }
  /** `onRecorded` is called once the running execution is in the database, with its trace id. */
  | { mode: 'webhook'; webhookUrl: string | undefined; onRecorded: (traceId: string) => void };

export interface ExecuteOptions {
  /** performance.now() when the request was accepted; overhead_ms counts from it. */
  acceptedAt: number;
  /** @default inline */
  answer?: ResponseMode;
  /**
   * The request's Idempotency-Key: the record, holding the key, is then written before the code runs, and a
   * concurrent request with the same key rejects with IdempotencyKeyTakenError instead of running it.
   */
  idempotency?: Idempotency;
}

/** `trc_` and 20 base32 characters (the form Baponi clients accept). */
export function newTraceId(): string {
  return generateId('execution');
}

/** Runs code for an authenticated caller: resolves the configuration chain, runs one sandbox, records the result. */
export class ExecutionService {
  readonly #options: ExecutionServiceOptions;
  #draining = false;

  constructor(options: ExecutionServiceOptions) {
    this.#options = options;
  }

  /**
   * Drains this node: it takes no new execution (503, which a client or load balancer retries on another node), lets
   * the running ones finish for up to `graceMs`, then cancels those left and waits for them to be recorded.
   */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    const running = () => this.#options.live.running().map((log) => log.finished);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(running()), grace]);
    clearTimeout(timer);
    const left = this.#options.live.running();
    if (left.length > 0) this.#options.logger.warn('cancelling executions still running at the end of the drain', { count: left.length });
    for (const log of left) log.cancel.abort();
    await Promise.all(running());
  }

  async execute(principal: Principal, request: ExecuteRequest, options: ExecuteOptions): Promise<ExecuteResponse> {
    const { acceptedAt, answer = { mode: 'inline' }, idempotency } = options;
    if (this.#draining) throw ApiError.unavailable('this server node is shutting down; retry the call, another node takes it', 1);
    const { sandboxConfig, organization, apiKey } = principal;
    rejectUnsupported(request, answer);
    if (request.timeout > organization.maxTimeoutSeconds) {
      throw ApiError.validation(
        `timeout: at most ${organization.maxTimeoutSeconds} seconds on this organization's plan; pass a smaller value or raise the organization's max_timeout_seconds`,
      );
    }
    if (request.timeout > sandboxConfig.timeoutMaxSeconds) {
      throw ApiError.validation(
        `timeout: at most ${sandboxConfig.timeoutMaxSeconds} seconds for this API key's sandbox; pass a smaller value or raise the sandbox config's timeout_max_seconds`,
      );
    }
    const languages = this.#options.runtime.languages(sandboxConfig.image);
    if (languages === null) {
      throw ApiError.unavailable(
        `image "${sandboxConfig.image}" of this API key's sandbox config is not ready on this server; its status is at GET /admin/v1/images/${sandboxConfig.image}`,
        30,
      );
    }
    if (!languages.includes(request.language)) {
      throw ApiError.validation(
        `language: "${request.language}" is not available in image "${sandboxConfig.image}" (available: ${languages.join(', ') || 'none'})`,
      );
    }
    const injection = connectorInjection((await this.#options.connectors?.forCall(principal)) ?? []);
    const env = withConnectorVariables({ ...sandboxConfig.envVars, ...apiKey.envVars, ...request.env_vars }, injection);
    const storage = await this.#openStorage(principal, request.sub_paths ?? []);
    const network = networkOf(principal);
    const networkAllow = network.mode === 'allowlist' ? network.allow : null;
    const traceId = newTraceId();
    const createdAt = new Date();

    const execution: NewExecution = {
      traceId,
      orgId: organization.id,
      apiKeyId: apiKey.id,
      sandboxConfigId: sandboxConfig.id,
      nodeId: this.#options.nodeId,
      language: request.language,
      code: request.code,
      metadata: request.metadata ?? {},
      threadId: request.thread_id ?? null,
      deliveryMode: answer.mode,
      webhookUrl: answer.mode === 'webhook' ? answer.webhookUrl : undefined,
      networkMode: network.mode,
      networkAllow,
      idempotency,
      createdAt,
    };

    const endExecution = this.#options.rateLimits.startExecution(organization.id);
    let webAdmission: WebAdmission | null = null;
    try {
      webAdmission = this.#options.web?.admit(principal, traceId) ?? null;
      const slot = connectorSlotNetwork(network, injection);
      const { sandbox, warm, home } = await this.#prepare(principal, request, traceId, slot, storage);
      // With an idempotency key the record is written before the code runs: the key is taken, or the call refused.
      // Another inline call is written once it has run for RECORD_DELAY_MS, or once with its result; a streamed or
      // webhook call on the next turn of the event loop, while its code runs.
      const { executions } = this.#options;
      let record: RecordWriter;
      try {
        if (idempotency) record = await RecordWriter.before(executions, execution);
        else if (answer.mode === 'inline') record = RecordWriter.deferred(executions, execution);
        else record = RecordWriter.soon(executions, execution);
      } catch (error) {
        await sandbox.destroy();
        await home?.lease.release();
        throw error;
      }
      const log = this.#options.live.start(organization.id, traceId, {
        metadata: request.metadata ?? {},
        createdAt,
        networkMode: network.mode,
        networkAllow,
      });
      try {
        const slotAllowlist = slot.mode === 'allowlist' ? slot.allow : null;
        const callEnv = webAdmission ? { ...env, ...webAdmission.env } : env;
        const response = await this.#run({ request, traceId, createdAt, acceptedAt, env: callEnv, slotAllowlist, injection, sandbox, warm, home, storage, log, answer, record });
        log.finish(response);
        return response;
      } catch (error) {
        log.finish(toExecuteResponse(traceId, failedResult(error instanceof Error ? error.message : 'the execution failed', createdAt, null)));
        throw error;
      } finally {
        this.#options.live.retire(log);
      }
    } finally {
      webAdmission?.revoke();
      endExecution();
      storage?.release();
    }
  }

  /** The call's storage, resolved and mounted on this node (400 for a bad sub_paths, 503 for a bucket that fails). */
  async #openStorage(principal: Principal, subPaths: readonly string[]): Promise<CallStorage | undefined> {
    if (this.#options.storage) {
      const storage = await this.#options.storage.open(principal, subPaths);
      return storage.isEmpty ? undefined : storage;
    }
    const resolved = resolveSubPaths(subPaths, new Set());
    if (!resolved.ok) throw ApiError.validation(resolved.problem);
    return undefined;
  }

  async #run(options: {
    request: ExecuteRequest;
    traceId: string;
    createdAt: Date;
    acceptedAt: number;
    env: Record<string, string>;
    /** For a sandbox in an `allowlist` slot: the names and networks it may reach (none for a blocked call with connectors). */
    slotAllowlist: string[] | null;
    /** The call's connectors: files, endpoints and the secrets redacted from its output. */
    injection: ConnectorInjection;
    sandbox: PreparedSandbox;
    warm: boolean;
    home: { lease: ThreadLease; changes: string } | undefined;
    storage: CallStorage | undefined;
    log: ExecutionLog;
    answer: ResponseMode;
    record: RecordWriter;
  }): Promise<ExecuteResponse> {
    const { request, traceId, createdAt, acceptedAt, env, slotAllowlist, injection, sandbox, warm, home, storage, log, answer, record } = options;
    let saved: { layer: string | null } | { error: unknown } | undefined;
    let storageSync: StorageSync | null = null;
    const redaction = new OutputRedaction(injection.secrets);
    const stdout = redaction.redactStream();
    const stderr = redaction.redactStream();
    const hasConnectors = injection.endpoints.length > 0;
    const running = sandbox.run({
      code: request.code,
      env,
      timeoutMs: request.timeout * 1000,
      signal: log.cancel.signal,
      ...(slotAllowlist && { networkAllowlist: slotAllowlist }),
      ...(injection.files.length > 0 && { files: injection.files }),
      ...(hasConnectors && { connectorEndpoints: injection.endpoints }),
      onStdout: (chunk) => log.output('stdout', redaction.isEmpty ? chunk : stdout.push(chunk)),
      onStderr: (chunk) => log.output('stderr', redaction.isEmpty ? chunk : stderr.push(chunk)),
      // A thread's changes are saved, and writes to buckets uploaded, whatever the outcome, timeouts included.
      afterExit:
        (home || storage) &&
        (async () => {
          const uploaded = storage?.drain().then((sync) => (storageSync = sync));
          if (home) {
            try {
              saved = { layer: await home.lease.save(home.changes) };
            } catch (error) {
              saved = { error };
            }
          }
          await uploaded;
        }),
    });
    // The caller learns the trace id once the record exists: a read of it on any node finds it (the stream's events
    // are kept from the start, so none is lost while the insert finishes).
    void record.written.then(() => {
      if (answer.mode === 'webhook') answer.onRecorded(traceId);
      if (answer.mode === 'streaming') answer.onStarted(log);
    });

    let outcome: SandboxOutcome;
    try {
      outcome = await running;
    } catch (error) {
      const message = error instanceof SandboxStartError ? 'the sandbox failed to start' : 'the sandbox failed';
      this.#options.logger.error(message, { traceId, error: String(error) });
      await this.#complete(record, failedResult(message, createdAt, log.endOutput()), home && { lease: home.lease, layer: null });
      this.#options.metrics.recordExecution({ language: request.language, status: 'failed', warm, overheadMs: null });
      throw ApiError.unavailable(`${message}; try again shortly`);
    }
    if (!redaction.isEmpty) {
      log.output('stdout', stdout.end());
      log.output('stderr', stderr.end());
    }
    const overheadMs = round(outcome.codeStartedAt - acceptedAt, 3);
    const durationMs = Math.round(outcome.runMs);
    const saveError = home === undefined || (saved && 'layer' in saved) ? undefined : (saved?.error ?? new Error('the save did not run'));
    if (saveError !== undefined) this.#options.logger.error('thread home could not be saved', { traceId, error: String(saveError) });
    const saveFailed = saveError !== undefined;
    const error = saveFailed ? homeNotSaved(saveFailureReason(saveError)) : describeOutcome(outcome, request.timeout);
    let result: ExecutionResult = {
      status: saveFailed ? 'failed' : outcome.status,
      exitCode: outcome.exitCode,
      errorCode: error?.code ?? null,
      error: error?.message ?? null,
      stdout: redaction.redactText(outcome.stdout, { truncated: outcome.stdoutTruncated }),
      stderr: redaction.redactText(outcome.stderr, { truncated: outcome.stderrTruncated }),
      stdoutTruncated: outcome.stdoutTruncated,
      stderrTruncated: outcome.stderrTruncated,
      warm,
      durationMs,
      overheadMs,
      peakMemoryBytes: outcome.peakMemoryBytes,
      cpuTimeMs: outcome.cpuTimeMs,
      resultSeq: log.endOutput(),
      startedAt: new Date(createdAt.getTime() + Math.max(0, outcome.codeStartedAt - acceptedAt)),
      completedAt: new Date(),
      network: outcome.network && outcome.network.map(toReceiptEntry),
      storageSync,
    };
    const layer = saved && 'layer' in saved ? saved.layer : null;
    if (!(await this.#complete(record, result, home && { lease: home.lease, layer }))) {
      // The thread was no longer this execution's (its hold lapsed): the record says the home was not saved.
      const lapsed = homeNotSaved('the thread was taken over by another execution');
      result = { ...result, status: 'failed', errorCode: lapsed.code, error: lapsed.message };
      await this.#complete(record, result, undefined);
    }
    this.#options.metrics.recordExecution({ language: request.language, status: result.status, warm, overheadMs });
    return toExecuteResponse(traceId, result);
  }

  /**
   * Completes the running record; with a thread, releases it in the same statement with the saved layer appended.
   * Returns false when the execution no longer held the thread (nothing was written then).
   */
  async #complete(record: RecordWriter, result: ExecutionResult, thread: { lease: ThreadLease; layer: string | null } | undefined): Promise<boolean> {
    const completed = await record.complete(result, thread && { ...thread.lease.thread, layer: thread.layer });
    if (completed?.webhookUrl) this.#options.webhooks.onQueued();
    if (!thread) return true;
    if (completed) {
      thread.lease.completed(thread.layer);
      return true;
    }
    await thread.lease.release();
    return false;
  }

  /**
   * A sandbox for the call; with a thread_id, the thread is taken (while the sandbox is acquired and its home's
   * writable layer made) and its layers attached; then its storage.
   */
  async #prepare(principal: Principal, request: ExecuteRequest, traceId: string, network: NetworkPolicy, storage: CallStorage | undefined) {
    const { sandboxConfig } = principal;
    const { threads } = this.#options;
    const leasing = request.thread_id === undefined ? undefined : threads.begin(principal, request.thread_id, traceId);
    leasing?.catch(() => undefined); // awaited below
    const expected = request.thread_id === undefined ? undefined : threads.expectedLowerDirectories(principal.organization.id, request.thread_id);
    let acquired;
    try {
      acquired = await this.#options.runtime.acquire({
        image: sandboxConfig.image,
        language: request.language,
        limits: sandboxLimits(sandboxConfig),
        // An allowlist slot reaches nothing until the list is bound with the code (RunRequest.networkAllowlist).
        network: network.mode === 'blocked' ? 'none' : network.mode,
        start: sandboxConfig.start,
      });
    } catch (error) {
      await leasing?.then((lease) => lease.release(), () => undefined);
      this.#options.logger.error('sandbox could not be prepared', { traceId, error: String(error) });
      throw ApiError.unavailable('no sandbox could be started; try again shortly');
    }
    let lease: ThreadLease | undefined;
    let home: { lease: ThreadLease; changes: string } | undefined;
    if (leasing) {
      // Over the layers this node expects while the database says which they are; again if they differ.
      const attaching = acquired.sandbox.attachLayers(
        leasing.then((taken) => taken.lowerDirectories),
        expected,
      );
      attaching.catch(() => undefined); // awaited below
      try {
        lease = await leasing;
      } catch (error) {
        // A busy thread, or layers that could not be restored: the sandbox ran nothing and goes, once the writable
        // layer's mount is made (and recorded for the teardown).
        await attaching.catch(() => undefined);
        await acquired.sandbox.destroy();
        throw error;
      }
      try {
        home = { lease, changes: await attaching };
      } catch (error) {
        await acquired.sandbox.destroy();
        await lease.release();
        this.#options.logger.error('thread home could not be attached', { traceId, error: String(error) });
        throw ApiError.unavailable('the thread home could not be attached to a sandbox; try again shortly');
      }
    }
    try {
      if (storage) await acquired.sandbox.attachStorage(storage.attachments);
    } catch (error) {
      await acquired.sandbox.destroy();
      await lease?.release();
      throw storageAttachError(error, traceId, this.#options.logger);
    }
    return { ...acquired, home };
  }

  /**
   * The execution that took the request's idempotency key within the last 24 hours, if any. 422 when it was taken
   * for a different request: a retry must send the same request through the same API key.
   */
  async earlierAttempt(principal: Principal, idempotency: Idempotency): Promise<Execution | null> {
    const earlier = await this.#options.executions.findByIdempotencyKey(principal.organization.id, idempotency.key);
    if (earlier && earlier.requestFingerprint !== idempotency.fingerprint) {
      throw new ApiError(
        ErrorCode.idempotencyKeyReused,
        `Idempotency-Key: used within the last 24 hours by execution ${earlier.traceId} for a different request (another body or API key); send this request with a new key`,
      );
    }
    return earlier;
  }

  /** A finished execution's answer, waiting for it to finish if it runs. */
  async result(orgId: string, traceId: string): Promise<ExecuteResponse> {
    const found = await this.output(orgId, traceId);
    return 'log' in found ? found.log.finished : recordedResponse(found.record);
  }

  /**
   * An execution's events for a replay: its live log when it runs (or just ran) on this node; when it runs on
   * another node, its live events relayed from there if `relayAfterSeq` is given and that node answers; else its
   * record once it has finished (an execution running elsewhere is waited for).
   */
  async output(orgId: string, traceId: string): Promise<{ log: ExecutionLog } | { record: FinishedExecution }>;
  async output(orgId: string, traceId: string, relayAfterSeq: number): Promise<{ log: ExecutionLog } | { record: FinishedExecution } | { relayed: Response }>;
  async output(
    orgId: string,
    traceId: string,
    relayAfterSeq?: number,
  ): Promise<{ log: ExecutionLog } | { record: FinishedExecution } | { relayed: Response }> {
    const log = this.#options.live.get(orgId, traceId);
    if (log) return { log };
    let relayTried = relayAfterSeq === undefined;
    for (;;) {
      const record = await this.#options.executions.get(orgId, traceId);
      if (!record) throw ApiError.notFound(`no execution ${traceId} in this organization`);
      if (isFinished(record)) return { record };
      if (!relayTried && record.nodeId !== null && record.nodeId !== this.#options.nodeId && this.#options.otherNodes) {
        relayTried = true;
        const relayed = await this.#options.otherNodes.output(record.nodeId, orgId, traceId, relayAfterSeq ?? -1);
        if (relayed) return { relayed };
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /**
   * Cancels an execution and answers once it has ended, or `cancelling` if that takes longer than CANCEL_WAIT_MS;
   * one running on another node is cancelled by that node. A finished execution answers with the status it finished
   * with: never 409, which Baponi clients read as a busy thread.
   */
  async cancel(orgId: string, traceId: string): Promise<ExecutionCancelResponse> {
    const here = await this.cancelHere(orgId, traceId);
    if (here) return here;
    const record = await this.#options.executions.get(orgId, traceId);
    if (!record) throw ApiError.notFound(`no execution ${traceId} in this organization`);
    if (record.status !== 'running') return { trace_id: traceId, status: record.status };
    const { nodeId } = record;
    const cancelled = nodeId !== null && nodeId !== this.#options.nodeId ? await this.#options.otherNodes?.cancel(nodeId, orgId, traceId) : null;
    if (cancelled) return cancelled;
    // The node running it did not answer: it may have ended it meanwhile, or be gone (its executions are then failed
    // by the other nodes within three heartbeats).
    const now = (await this.#options.executions.get(orgId, traceId))?.status;
    if (now !== undefined && now !== 'running') return { trace_id: traceId, status: now };
    throw ApiError.unavailable(`execution ${traceId} runs on server node ${nodeId ?? 'unknown'}, which did not answer; retry`, 1);
  }

  /** Cancels an execution running on this node (see cancel); null when it does not run here. */
  async cancelHere(orgId: string, traceId: string): Promise<ExecutionCancelResponse | null> {
    const log = this.#options.live.get(orgId, traceId);
    if (!log) return null;
    log.cancel.abort();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), CANCEL_WAIT_MS)));
    const result = await Promise.race([log.finished, waited]);
    clearTimeout(timer);
    return { trace_id: traceId, status: result?.status ?? 'cancelling' };
  }

  /** The live log of an execution running (or just run) on this node, for another node relaying it. */
  liveLog(orgId: string, traceId: string): ExecutionLog | undefined {
    return this.#options.live.get(orgId, traceId);
  }

  async get(orgId: string, traceId: string): Promise<ExecutionRecordResponse> {
    const execution = await this.#options.executions.get(orgId, traceId);
    if (execution) {
      const delivery = execution.webhookUrl === null ? null : await this.#options.webhooks.deliveries.get(orgId, traceId);
      return toRecordResponse(execution, delivery?.status ?? (execution.webhookUrl === null ? null : 'pending'));
    }
    // Running here, its record not written yet: its trace id was already streamed to the caller. A finished one
    // without a record was deleted (retention).
    const log = this.#options.live.get(orgId, traceId);
    if (log && !log.done) {
      return {
        trace_id: traceId,
        status: 'running',
        exit_code: null,
        stdout: null,
        stderr: null,
        error: null,
        error_message: null,
        duration_ms: 0,
        overhead_ms: null,
        warm: null,
        delivery_mode: 'streaming',
        webhook_url: null,
        webhook_delivery_status: null,
        metadata: log.request.metadata,
        network_mode: log.request.networkMode,
        network_allow: log.request.networkAllow,
        network: null,
        storage_sync: null,
        created_at: log.request.createdAt.toISOString(),
        completed_at: null,
      };
    }
    throw ApiError.notFound(`no execution ${traceId} in this organization`);
  }
}

export function sandboxLimits(config: SandboxConfig): SandboxLimits {
  const memoryBytes = config.memoryMb * MEBIBYTE;
  return {
    cpus: config.cpu,
    memoryBytes,
    pids: PIDS_PER_SANDBOX,
    // Both zones are tmpfs charged to the sandbox's memory limit; each may use up to half of it.
    tmpBytes: Math.floor(memoryBytes / 2),
    homeBytes: Math.floor(memoryBytes / 2),
  };
}

interface ExecutionError {
  code: ExecutionErrorCode;
  message: string;
}

/** A thread call whose changes were not saved: what failed, and that the thread is at its last saved state. */
function homeNotSaved(reason: string): ExecutionError {
  return {
    code: 'thread_save_error',
    message: `the code ran, but the thread's home changes could not be saved (${reason}); the thread is unchanged, at its last saved state`,
  };
}

/** Why a save failed, in words safe to show a caller: no paths, hosts or internal messages. */
function saveFailureReason(error: unknown): string {
  if (error instanceof LayerManifestError) return error.message;
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'no space left on the storage';
  }
  return error instanceof BlobStoreUnavailableError ? 'the storage could not be reached' : 'the storage failed';
}

function rejectUnsupported(request: ExecuteRequest, answer: ResponseMode): void {
  if (request.webhook_url !== undefined && answer.mode !== 'webhook') {
    throw ApiError.validation('webhook_url: needs the header Prefer: respond-async (the call then answers 202 at once)');
  }
}

function describeOutcome(outcome: SandboxOutcome, timeoutSeconds: number): ExecutionError | null {
  switch (outcome.status) {
    case 'timeout':
      return { code: 'timeout', message: `execution timed out after ${timeoutSeconds} s and was killed` };
    case 'oom':
      return { code: 'memory_limit_exceeded', message: 'execution ran out of memory and was killed' };
    case 'cancelled':
      return { code: 'cancelled', message: 'execution was cancelled' };
    default:
      return null;
  }
}

function failedResult(message: string, startedAt: Date, resultSeq: number | null): ExecutionResult {
  return {
    status: 'failed' as const,
    exitCode: NEVER_RAN_EXIT_CODE,
    errorCode: 'sandbox_error',
    error: message,
    stdout: '',
    stderr: '',
    stdoutTruncated: false,
    stderrTruncated: false,
    warm: false,
    durationMs: null,
    overheadMs: null,
    peakMemoryBytes: null,
    cpuTimeMs: null,
    resultSeq,
    startedAt,
    completedAt: new Date(),
    network: null,
    storageSync: null,
  };
}

/** A receipt entry as the API shows it. */
function toReceiptEntry(flow: NetworkFlow): NetworkReceiptEntry {
  return {
    name: flow.name,
    address: flow.address,
    port: flow.port,
    protocol: flow.protocol,
    bytes_out: flow.bytesOut,
    bytes_in: flow.bytesIn,
    packets_out: flow.packetsOut,
    packets_in: flow.packetsIn,
    verdict: flow.verdict,
    rule: flow.rule,
    connector: flow.connector,
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** errno values the spawner reports for a storage directory it cannot bind. */
const NO_SUCH_DIRECTORY = 2;
const SYMBOLIC_LINK = 40;

/**
 * A storage attachment that failed: a directory of a read-only one that does not exist (read-only ones are never
 * made), or a path through a symbolic link (a sandbox may have planted one), is the request's to fix (400); anything
 * else is this node's (503).
 */
function storageAttachError(error: unknown, traceId: string, logger: Logger): ApiError {
  const errno = Number(/\(errno (\d+)\)/.exec(String(error))?.[1]);
  if (errno === NO_SUCH_DIRECTORY) {
    return ApiError.validation('sub_paths: a directory to mount read-only does not exist (read-only mounts are never made); check sub_paths and the API key\'s prefixes');
  }
  if (errno === SYMBOLIC_LINK) return ApiError.validation('sub_paths: a directory to mount is reached through a symbolic link; storage is mounted only through directories');
  logger.error('storage could not be attached', { traceId, error: String(error) });
  return ApiError.unavailable('storage could not be attached to a sandbox; try again shortly');
}
