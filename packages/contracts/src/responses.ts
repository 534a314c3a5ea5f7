import { z } from 'zod';
import { ErrorCode } from './errors.js';
import { DELIVERY_MODES, EXECUTION_ERROR_CODES, EXECUTION_STATUSES, ExecutionStatus } from './execute.js';
import { NETWORK_MODES } from './network.js';
import { LIMITS } from './limits.js';

/** The body of every error answer; `error` is a stable code, its HTTP status is ERROR_STATUS[error]. */
export const ApiErrorBody = z.object({
  error: z.enum(ErrorCode).describe('stable machine-readable code; see ERROR_STATUS for its HTTP status'),
  message: z.string().describe('a sentence for humans: names the field and the rule, or how to fix the problem'),
  request_id: z.string().describe('the X-Request-Id of this request; quote it when reporting a problem'),
}).meta({ id: 'ApiErrorBody' });
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;

const TraceId = z.string().describe('execution id, `trc_` and 20 base32 characters');
const Timestamp = z.iso.datetime();
const ExecutionErrorCode = z.enum(EXECUTION_ERROR_CODES).meta({ id: 'ExecutionErrorCode' });

/** One destination an execution with network contacted or tried (Airlock extension: the network receipt). */
export const NetworkReceiptEntry = z
  .object({
    name: z
      .string()
      .nullable()
      .describe('the name the sandbox resolved to this address, or sent to the allowlist proxy (TLS server name, HTTP Host), if it did'),
    address: z.string().nullable().describe('null for a name an allowlist refused to resolve: the sandbox had no address to try'),
    port: z.number().int(),
    protocol: z.enum(['tcp', 'udp']),
    bytes_out: z.number().int().describe('for a connection through the allowlist proxy, the payload it relayed'),
    bytes_in: z.number().int(),
    packets_out: z.number().int().nullable().describe('null where nothing counts packets (the allowlist proxy, refused names)'),
    packets_in: z.number().int().nullable(),
    verdict: z.enum(['allowed', 'blocked']),
    rule: z
      .enum(['host_address', 'blocked_range', 'blocked_port', 'allowlist'])
      .nullable()
      .describe(
        'what refused it: an address of the host, a private or reserved range, a blocked port, or the allowlist (a name or ' +
          'address not on it, or QUIC); null when allowed',
      ),
    connector: z
      .string()
      .nullable()
      .optional()
      .describe("the connector whose endpoint an allowed flow reached; null or absent otherwise"),
  })
  .meta({ id: 'NetworkReceiptEntry' });
export type NetworkReceiptEntry = z.infer<typeof NetworkReceiptEntry>;

/** Whether what a call wrote to its storage is in the bucket (volumes are written in place: always `synced`). */
export const StorageSync = z
  .object({
    status: z
      .enum(['synced', 'pending', 'failed'])
      .describe('synced: every write is stored; pending: some files were still uploading when the call answered; failed: some could not be uploaded'),
    files: z.array(z.string()).describe('the files still uploading or failed, as the sandbox named them (/data/<name>/...)'),
    reason: z.string().nullable().describe('why they are pending or failed; null when synced'),
  })
  .meta({ id: 'StorageSync' });
export type StorageSync = z.infer<typeof StorageSync>;

/** The result of an execution: the inline answer, the last stream event's `result`, the webhook payload. */
export const ExecuteResponse = z.object({
  success: z.boolean().describe('true exactly when the exit code is 0'),
  stdout: z.string(),
  stderr: z.string(),
  exit_code: z
    .number()
    .int()
    .describe('137 when the code was killed (timeout, cancelled; out of memory usually too), -1 when it never ran to an exit (the server failed or stopped)'),
  error: ExecutionErrorCode.nullable().describe('why the code did not finish normally, as a stable code (as Baponi sends it); null when it did'),
  error_message: z.string().nullable().describe('Airlock extension: the same reason as a sentence for people'),
  trace_id: TraceId,
  status: ExecutionStatus,
  stdout_truncated: z.boolean().describe(`stdout passed ${LIMITS.outputMaxBytes} bytes and was cut there`),
  stderr_truncated: z.boolean().describe(`stderr passed ${LIMITS.outputMaxBytes} bytes and was cut there`),
  duration_ms: z.number().int().describe('how long the code ran'),
  overhead_ms: z.number().describe('from the request being accepted to the code running'),
  network: z
    .array(NetworkReceiptEntry)
    .optional()
    .describe('Airlock extension, for a sandbox with network: every destination it contacted or tried (TCP and UDP)'),
  storage_sync: StorageSync.optional().describe('Airlock extension, for a call with storage at /data: whether its writes are stored'),
}).meta({ id: 'ExecuteResponse' });
export type ExecuteResponse = z.infer<typeof ExecuteResponse>;

/** 202 answer of an execution accepted for webhook delivery (`Prefer: respond-async`). */
export const ExecuteAcceptedResponse = z
  .object({
    trace_id: TraceId,
    status: z
      .union([z.literal('running'), ExecutionStatus])
      .describe("`running`; a retry with an Idempotency-Key gets the earlier execution's current status"),
  })
  .meta({ id: 'ExecuteAcceptedResponse' });
export type ExecuteAcceptedResponse = z.infer<typeof ExecuteAcceptedResponse>;

/** What POSTs to `webhook_url` when the execution finishes (signed per Standard Webhooks). */
export const WebhookPayload = ExecuteResponse.extend({ metadata: z.record(z.string(), z.string()).describe("the request's metadata") }).meta({
  id: 'WebhookPayload',
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

export const EXECUTION_RECORD_STATUSES = ['running', ...EXECUTION_STATUSES] as const;

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export const WebhookDeliveryStatus = z.enum(WEBHOOK_DELIVERY_STATUSES).meta({ id: 'WebhookDeliveryStatus' });
export type WebhookDeliveryStatus = z.infer<typeof WebhookDeliveryStatus>;

/** A recorded execution (`GET /v1/executions/{trace_id}`); output and outcome fields are null while it runs. */
export const ExecutionRecordResponse = z.object({
  trace_id: TraceId,
  status: z.enum(EXECUTION_RECORD_STATUSES),
  exit_code: z.number().int().nullable().describe('null while running; then as in the execute response'),
  stdout: z.string().nullable(),
  stderr: z.string().nullable(),
  error: ExecutionErrorCode.nullable(),
  error_message: z.string().nullable().describe('Airlock extension: the reason as a sentence'),
  duration_ms: z.number().int().describe('how long the code ran; 0 while it runs'),
  overhead_ms: z.number().nullable().describe('Airlock extension: accepted -> code running, in milliseconds'),
  warm: z.boolean().nullable().describe('Airlock extension: whether a pre-started sandbox from the warm pool ran the code'),
  delivery_mode: z.enum(DELIVERY_MODES),
  webhook_url: z.string().nullable().describe('where the result is POSTed (delivery mode webhook), else null'),
  webhook_delivery_status: WebhookDeliveryStatus.nullable().describe("the webhook delivery's state; null without webhook_url"),
  metadata: z.record(z.string(), z.string()).describe("the request's metadata ({} without)"),
  network_mode: z.enum(NETWORK_MODES).describe("Airlock extension: the network it ran with, its sandbox config's as its API key narrowed it"),
  network_allow: z
    .array(z.string())
    .nullable()
    .describe("Airlock extension: for network_mode 'allowlist', the names and networks it could reach; null otherwise"),
  network: z
    .array(NetworkReceiptEntry)
    .nullable()
    .describe('Airlock extension: the network receipt of a finished execution with network; null otherwise'),
  storage_sync: StorageSync.nullable().describe('Airlock extension: for a finished call with storage, whether its writes are stored'),
  created_at: Timestamp,
  completed_at: Timestamp.nullable(),
}).meta({ id: 'ExecutionRecordResponse' });
export type ExecutionRecordResponse = z.infer<typeof ExecutionRecordResponse>;

export const ExecutionCancelResponse = z
  .object({
    trace_id: TraceId,
    status: z
      .enum([...EXECUTION_STATUSES, 'cancelling'])
      .describe(
        'the final status: `cancelled` once the cancelled code has ended, or the status an execution had already ' +
          'finished with; `cancelling` while it is still being stopped (poll the execution for `cancelled`)',
      ),
  })
  .meta({ id: 'ExecutionCancelResponse' });
export type ExecutionCancelResponse = z.infer<typeof ExecutionCancelResponse>;

const Seq = z.number().int().min(0).describe('position in the stream, from 0; resume with ?after_seq=<seq>');

/**
 * One line of an NDJSON execution stream (`Accept: application/x-ndjson`, and `/v1/executions/{id}/output`):
 * first a `status`, then `output` chunks in the order produced and `keepalive`s while idle, last a `result`.
 */
export const ExecutionEvent = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('status'), seq: Seq, trace_id: TraceId, status: z.literal('running') }).meta({ id: 'StatusEvent' }),
    z
      .object({ type: z.literal('output'), seq: Seq, stream: z.enum(['stdout', 'stderr']), data: z.string() })
      .meta({ id: 'OutputEvent', description: 'a chunk of output, in the order produced' }),
    z.object({ type: z.literal('keepalive'), seq: Seq }).meta({ id: 'KeepaliveEvent', description: 'sent while the code prints nothing' }),
    z
      .object({
        type: z.literal('result'),
        seq: Seq,
        trace_id: TraceId,
        status: ExecutionStatus,
        result: ExecuteResponse,
        output_truncated: z.boolean().describe('stdout or stderr was cut'),
      })
      .meta({ id: 'ResultEvent', description: 'the last event: the same result as the inline answer' }),
  ])
  .meta({ id: 'ExecutionEvent' });
export type ExecutionEvent = z.infer<typeof ExecutionEvent>;

export const WebhookAttempt = z.object({
  attempt: z.number().int().min(1),
  attempted_at: Timestamp,
  status_code: z.number().int().nullable().describe("the receiver's HTTP status; null when it gave none"),
  error: z.string().nullable().describe('why the attempt did not deliver; null when it did'),
  duration_ms: z.number(),
}).meta({ id: 'WebhookAttempt' });
export type WebhookAttempt = z.infer<typeof WebhookAttempt>;

/** An execution's webhook delivery and its attempts (`GET /v1/executions/{trace_id}/webhook`). */
export const WebhookDeliveryResponse = z.object({
  url: z.string(),
  status: WebhookDeliveryStatus,
  attempts: z.array(WebhookAttempt),
  next_attempt_at: Timestamp.nullable().describe('when the next attempt is due, while the delivery is pending'),
}).meta({ id: 'WebhookDeliveryResponse' });
export type WebhookDeliveryResponse = z.infer<typeof WebhookDeliveryResponse>;

export const HealthResponse = z.object({ status: z.literal('ok') }).meta({ id: 'HealthResponse' });
export type HealthResponse = z.infer<typeof HealthResponse>;

export const ReadinessResponse = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.record(z.string(), z.boolean()).describe('each dependency checked (database, image, ...) and whether it is ready'),
}).meta({ id: 'ReadinessResponse' });
export type ReadinessResponse = z.infer<typeof ReadinessResponse>;
