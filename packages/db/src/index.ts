export { openDatabase, type Database, type OpenDatabaseOptions, type Queryable } from './database.js';
export {
  DatabaseUsageError,
  MigrationError,
  TransactionAbortedError,
  UniqueViolationError,
  UnknownImageError,
} from './errors.js';
export { ID_PREFIXES, generateId, type IdKind } from './ids.js';
export { MIGRATIONS_DIRECTORY, loadMigrations, type Migration } from './migrations.js';
export { OrganizationRepository, type NewOrganization, type Organization } from './organization-repository.js';
export {
  SandboxConfigRepository,
  type ExecutionRetention,
  type NewSandboxConfig,
  type SandboxConfig,
  type SandboxConfigSettings,
  type ThreadRetention,
} from './sandbox-config-repository.js';
export {
  ApiKeyRepository,
  LAST_USED_RESOLUTION_SECONDS,
  type ApiKey,
  type ApiKeyAuthorization,
  type NewApiKey,
} from './api-key-repository.js';
export {
  ExecutionRepository,
  IDEMPOTENCY_KEY_HOURS,
  IdempotencyKeyTakenError,
  NEVER_RAN_EXIT_CODE,
  type DeliveryMode,
  type HeldThread,
  type Execution,
  type ExecutionFilter,
  type ExecutionResult,
  type ExecutionStatus,
  type FinishedExecutionStatus,
  type NewExecution,
} from './execution-repository.js';
export { ThreadRepository, type Thread } from './thread-repository.js';
export { NodeRepository, type NodeKeyFingerprints, type ServerNode } from './node-repository.js';
export type { NodeScope } from './node-scope.js';
export {
  WebhookRepository,
  type AttemptOutcome,
  type ClaimedDelivery,
  type ListedDelivery,
  type RequeueOutcome,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
} from './webhook-repository.js';
export {
  StorageConnectionRepository,
  type StorageConnection,
  type StorageConnectionFields,
  type StorageProvider,
  type SyncMode,
} from './storage-connection-repository.js';
export {
  ImageRepository,
  type ImageOrigin,
  type ImageRecord,
  type ImageSourceKind,
  type ImageStatus,
} from './image-repository.js';
export { VolumeRepository, type Volume } from './volume-repository.js';
export { StorageAttachmentRepository, type AttachRefusal, type StorageAttachment } from './storage-attachment-repository.js';
export {
  ConnectorRepository,
  type Connector,
  type ConnectorAttachRefusal,
  type ConnectorFields,
  type ConnectorStatus,
} from './connector-repository.js';
export {
  AuditRepository,
  GENESIS_HASH,
  INSTANCE_CHAIN,
  auditChainOf,
  type AuditAuthMethod,
  type AuditChainHead,
  type AuditCursor,
  type AuditEntry,
  type AuditFilter,
  type AuditHasher,
  type AuditOutcome,
  type AuditPartition,
  type NewAuditEntry,
} from './audit-repository.js';
export { AdminTokenRepository, type AdminRole, type AdminToken, type NewAdminToken } from './admin-token-repository.js';
export { grantApplicationRole } from './application-role.js';
export { UserRepository, type Member, type Membership, type RoleSource, type User } from './user-repository.js';
export { SessionRepository, type Session, type SessionMethod, type SignInFlow } from './session-repository.js';
export { eraseOrganization } from './organization-erasure.js';
export { UsageRepository, type ExecutionUsage, type UsageReport } from './usage-repository.js';
export {
  WebSearchProviderRepository,
  type WebSearchProvider,
  type WebSearchProviderFields,
} from './web-search-provider-repository.js';
