import type { ExecuteResponse, ExecutionErrorCode, ExecutionRecordResponse } from '@airlock/contracts';
import { NEVER_RAN_EXIT_CODE, type Execution, type FinishedExecutionStatus, type WebhookDeliveryStatus } from '@airlock/db';

export type FinishedExecution = Execution & { status: FinishedExecutionStatus };

/** A finished execution's record as the inline response it answered (for replays and webhook payloads). */
export function toExecuteResponse(execution: FinishedExecution): ExecuteResponse {
  return {
    success: execution.exitCode === 0,
    stdout: execution.stdout ?? '',
    stderr: execution.stderr ?? '',
    exit_code: execution.exitCode ?? NEVER_RAN_EXIT_CODE,
    error: errorCode(execution),
    error_message: execution.error,
    trace_id: execution.traceId,
    status: execution.status,
    stdout_truncated: execution.stdoutTruncated,
    stderr_truncated: execution.stderrTruncated,
    duration_ms: execution.durationMs ?? 0,
    overhead_ms: execution.overheadMs ?? 0,
  };
}

export function isFinished(execution: Execution): execution is FinishedExecution {
  return execution.status !== 'running';
}

/** The body POSTed to an execution's webhook URL: the inline result plus the request's metadata. */
export function webhookPayload(execution: FinishedExecution): string {
  return JSON.stringify({ ...toExecuteResponse(execution), metadata: execution.metadata });
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
    created_at: execution.createdAt.toISOString(),
    completed_at: execution.completedAt?.toISOString() ?? null,
  };
}

/** The record's error code; an error stored as a sentence alone reads as sandbox_error. */
function errorCode(execution: Execution): ExecutionErrorCode | null {
  if (execution.errorCode !== null) return execution.errorCode as ExecutionErrorCode;
  return execution.error === null ? null : 'sandbox_error';
}
