export { ErrorCode, ERROR_STATUS, type ApiErrorBody } from './errors.js';
export { LIMITS, RESERVED_ENV_NAMES, RESERVED_ENV_PREFIXES, isReservedEnvName } from './limits.js';
export {
  LANGUAGES,
  Language,
  EXECUTION_STATUSES,
  ExecutionStatus,
  DELIVERY_MODES,
  type DeliveryMode,
  THREAD_ID_PATTERN,
  ENV_NAME_PATTERN,
  EnvVars,
  Metadata,
  ExecuteRequest,
  type ExecuteRequestInput,
  type ExecuteResponse,
  type ExecutionRecordResponse,
} from './execute.js';
export {
  FILE_MAX_BYTES,
  FileDeleteRequest,
  FileDownloadUrlRequest,
  FileUploadUrlRequest,
  FilesListRequest,
  homePathProblem,
  type FileEntry,
  type SignedUrlResponse,
} from './files.js';
