export { Airlock, type ExecuteAsyncOptions, type WaitOptions } from './client.js';
export type { AirlockOptions, FetchFunction } from './configuration.js';
export type { ExecuteOptions } from './execute-options.js';
export { ExecutionStream, type ExecuteStreamOptions } from './execution-stream.js';
export { FilesApi, type UploadData, type UploadOptions, type UploadUrlOptions } from './files.js';
export { ThreadsApi } from './threads.js';
export type { CallOptions } from './transport.js';
export type {
  AcceptedExecution,
  CancelledExecution,
  ExecutionEvent,
  ExecutionRecord,
  ExecutionResult,
  FileEntry,
  ForkedThread,
  KeepaliveEvent,
  Language,
  OutputEvent,
  ResultEvent,
  SignedUrl,
  StatusEvent,
  WebhookAttempt,
  WebhookDelivery,
} from './types.js';
export {
  AirlockError,
  AirlockApiError,
  ValidationError,
  UnauthorizedError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  RequestTimeoutError,
  ConflictError,
  ThreadBusyError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  IdempotencyKeyReusedError,
  RateLimitedError,
  InternalServerError,
  UnavailableError,
  AirlockConnectionError,
  AirlockTimeoutError,
  AirlockAbortError,
  AirlockConfigurationError,
  type ApiErrorCode,
  type ApiErrorDetails,
} from './errors.js';
