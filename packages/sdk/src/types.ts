import type {
  ExecuteAcceptedResponse,
  ExecuteResponse,
  ExecutionCancelResponse,
  ExecutionEvent as WireExecutionEvent,
  ExecutionRecordResponse,
  FileEntry as WireFileEntry,
  Language,
  SignedUrlResponse,
  ThreadForkResponse,
  WebhookAttempt as WireWebhookAttempt,
  WebhookDeliveryResponse,
} from '@airlock/contracts';
import type { Camelize } from './camel-case.js';

/**
 * The SDK's data types are the wire contract's types (`@airlock/contracts`) with camelCase keys, so a field added to
 * the contract appears here without a second definition. See docs/decisions/0013-typescript-sdk.md.
 */

export type { Language };

/** The result of an execution: `execute()`, a stream's last event, `finalResult()`. */
export type ExecutionResult = Camelize<ExecuteResponse>;

/** A recorded execution (`getExecution`); output and outcome fields are null while it runs. */
export type ExecutionRecord = Camelize<ExecutionRecordResponse>;

/** An execution accepted to run in the background (`executeAsync`). */
export type AcceptedExecution = Camelize<ExecuteAcceptedResponse>;

export type CancelledExecution = Camelize<ExecutionCancelResponse>;

export type WebhookAttempt = Camelize<WireWebhookAttempt>;

/** The state of an execution's webhook delivery and every attempt so far. */
export type WebhookDelivery = Omit<Camelize<WebhookDeliveryResponse>, 'attempts'> & { attempts: WebhookAttempt[] };

type WireEvent<Type extends WireExecutionEvent['type']> = Extract<WireExecutionEvent, { type: Type }>;

/** The first event of a stream: the execution runs and has this trace id. */
export type StatusEvent = Camelize<WireEvent<'status'>>;
/** A chunk of stdout or stderr, in the order produced. */
export type OutputEvent = Camelize<WireEvent<'output'>>;
/** Sent by the server while the code prints nothing, to keep the connection open. */
export type KeepaliveEvent = Camelize<WireEvent<'keepalive'>>;
/** The last event: the same result as `execute()` answers. */
export type ResultEvent = Omit<Camelize<WireEvent<'result'>>, 'result'> & { result: ExecutionResult };
/** One event of an execution stream; `seq` numbers them from 0. */
export type ExecutionEvent = StatusEvent | OutputEvent | KeepaliveEvent | ResultEvent;

/** A file or directory of a thread's home. */
export type FileEntry = Camelize<WireFileEntry>;

/** A signed, expiring URL allowing one method on one file; send `headers` with the request. */
export type SignedUrl = Camelize<SignedUrlResponse>;

export type ForkedThread = Camelize<ThreadForkResponse>;
