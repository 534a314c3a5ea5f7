import type { ExecuteResponse, ExecutionErrorCode, ExecutionRecordResponse } from '@airlock/contracts';
import { NEVER_RAN_EXIT_CODE, type Execution, type ExecutionResult, type FinishedExecutionStatus, type WebhookDeliveryStatus } from '@airlock/db';

export type FinishedExecution = Execution & { status: FinishedExecutionStatus };

/** What an execution's answers carry: the result being recorded, or a finished execution's record. */
export type ExecutionOutcomeFields = Pick<
  ExecutionResult,
  'status' | 'exitCode' | 'errorCode' | 'error' | 'stdoutTruncated' | 'stderrTruncated' | 'durationMs' | 'overheadMs' | 'network' | 'storageSync'
> & { stdout: string | null; stderr: string | null };

/**
 * The one mapper from an execution's outcome to the execute answer; the inline answer, the stream's result event, the
 * replay, the webhook body and the MCP tool's result all carry it.
 */
export function toExecuteResponse(traceId: string, outcome: ExecutionOutcomeFields): ExecuteResponse {
  return {
    success: outcome.status === 'success' && outcome.exitCode === 0,
    stdout: outcome.stdout ?? '',
    stderr: outcome.stderr ?? '',
    exit_code: outcome.exitCode ?? NEVER_RAN_EXIT_CODE,
    error: errorCode(outcome),
    error_message: outcome.error,
    trace_id: traceId,
    status: outcome.status,
    stdout_truncated: outcome.stdoutTruncated,
    stderr_truncated: outcome.stderrTruncated,
    duration_ms: outcome.durationMs ?? 0,
    overhead_ms: outcome.overheadMs ?? 0,
    ...(outcome.network !== null && { network: outcome.network }),
    ...(outcome.storageSync !== null && { storage_sync: outcome.storageSync }),
  };
}

/** A finished execution's record as the answer it gave (for replays and webhook payloads). */
export function recordedResponse(execution: FinishedExecution): ExecuteResponse {
  return toExecuteResponse(execution.traceId, execution);
}

export function isFinished(execution: Execution): execution is FinishedExecution {
  return execution.status !== 'running';
}

/** The body POSTed to an execution's webhook URL: the inline result plus the request's metadata. */
export function webhookPayload(execution: FinishedExecution): string {
  return JSON.stringify({ ...recordedResponse(execution), metadata: execution.metadata });
}

export function toRecordResponse(execution: Execution, webhookDeliveryStatus: WebhookDeliveryStatus | null): ExecutionRecordResponse {
  return {
    trace_id: execution.traceId,
    status: execution.status,
    exit_code: execution.exitCode,
    stdout: execution.stdout,
    stderr: execution.stderr,
    error: errorCode(execution),
    error_message: execution.error,
    // 0 rather than null while running: Baponi clients read it as an integer.
    duration_ms: execution.durationMs ?? 0,
    overhead_ms: execution.overheadMs,
    warm: execution.status === 'running' ? null : execution.warm,
    delivery_mode: execution.deliveryMode,
    webhook_url: execution.webhookUrl,
    webhook_delivery_status: webhookDeliveryStatus,
    metadata: execution.metadata,
    network_mode: execution.networkMode,
    network_allow: execution.networkAllow,
    network: execution.network,
    storage_sync: execution.storageSync,
    created_at: execution.createdAt.toISOString(),
    completed_at: execution.completedAt?.toISOString() ?? null,
  };
}

/** The outcome's error code; an error stored as a sentence alone reads as sandbox_error. */
function errorCode(outcome: Pick<ExecutionResult, 'errorCode' | 'error'>): ExecutionErrorCode | null {
  if (outcome.errorCode !== null) return outcome.errorCode as ExecutionErrorCode;
  return outcome.error === null ? null : 'sandbox_error';
}
