import { ErrorCode } from '@airlock/contracts';
import { eraseOrganization, type Database, type Execution, type ExecutionRepository } from '@airlock/db';
import { auditEntryBody } from '../audit/audit-chain.js';
import type { AuditService } from '../audit/audit-service.js';
import type { ConnectorService } from '../connectors/connector-service.js';
import type { IdentityService } from '../auth/identity-service.js';
import { toRecordResponse } from '../executions/execution-records.js';
import { ApiError } from '../shared/api-error.js';
import type { Logger } from '../shared/logger.js';
import type { StorageService } from '../storage/storage-service.js';
import { DEFAULT_ORGANIZATION_SLUG, type AdminService } from './admin-service.js';

/** One line of an organization's export: what it is, and the same object the admin API answers for it. */
export interface ExportLine {
  type: 'organization' | 'sandbox' | 'api_key' | 'connector' | 'storage_connection' | 'volume' | 'member' | 'execution' | 'audit';
  data: unknown;
}

/** Executions read per query while exporting. */
const EXECUTION_BATCH = 200;
/** How long removing an organization's volume files may take before the erasure reports it. */
const VOLUME_REMOVAL_BUDGET_MS = 120_000;

export interface AccountServiceOptions {
  database: Database;
  admin: AdminService;
  connectors: ConnectorService;
  storage: StorageService;
  identity: IdentityService;
  executions: ExecutionRepository;
  audit: AuditService;
  /** Deletes the files of an organization's volumes (their directory here, or their objects in the server's bucket). */
  removeVolumeFiles: (orgId: string, budgetMs: number) => Promise<void>;
  /** Forgets what was cached about keys, storage and connectors, so the erasure applies at once on this server. */
  forgetCached: () => void;
  logger: Logger;
}

/** An organization's data as a whole: exported as JSON Lines, or erased. */
export class AccountService {
  readonly #options: AccountServiceOptions;

  constructor(options: AccountServiceOptions) {
    this.#options = options;
  }

  /**
   * Everything of an organization, as JSON Lines values: its settings (sandbox configs, keys, connectors and storage
   * connections without secrets, volumes, members), its executions within their retention (code and output), and
   * its audit log.
   */
  async *export(slug: string): AsyncGenerator<ExportLine> {
    const { admin, connectors, storage, identity, executions, audit } = this.#options;
    const organization = await admin.getOrganization(slug);
    yield { type: 'organization', data: organization };
    for (const sandbox of await admin.listSandboxes(slug)) yield { type: 'sandbox', data: sandbox };
    for (const key of await admin.listKeys(slug)) yield { type: 'api_key', data: key };
    for (const connector of await connectors.list(slug)) yield { type: 'connector', data: connector };
    for (const connection of await storage.listConnections(slug)) yield { type: 'storage_connection', data: connection };
    for (const volume of await storage.listVolumes(slug)) yield { type: 'volume', data: volume };
    for (const member of await identity.listMembers(organization.id)) yield { type: 'member', data: member };
    let after: Execution | undefined;
    for (;;) {
      const batch = await executions.listForOrganization(organization.id, {
        limit: EXECUTION_BATCH,
        ...(after && { after: { createdAt: after.createdAt, traceId: after.traceId } }),
      });
      for (const execution of batch) {
        yield { type: 'execution', data: { ...toRecordResponse(execution, null), language: execution.language, code: execution.code } };
      }
      after = batch.at(-1);
      if (batch.length < EXECUTION_BATCH) break;
    }
    for await (const entry of audit.export({ chain: organization.id })) yield { type: 'audit', data: auditEntryBody(entry) };
  }

  /**
   * Erases an organization (not the default one) once `confirm` repeats its slug: keys revoked, executions, threads,
   * connectors, storage connections, memberships and volume files deleted, sandbox configs and the organization
   * marked deleted. 409 while it runs executions. Its audit log stays until its retention ends. Volume files that
   * cannot be removed (the server's bucket not answering) are reported (`volume_files_removed: false`) and logged.
   */
  async erase(slug: string, confirm: string): Promise<{ erased: Record<string, number>; volume_files_removed: boolean }> {
    if (confirm !== slug) throw ApiError.validation(`confirm: must repeat the organization's slug ("${slug}") to erase it`);
    if (slug === DEFAULT_ORGANIZATION_SLUG) throw new ApiError(ErrorCode.conflict, `the "${DEFAULT_ORGANIZATION_SLUG}" organization cannot be erased`);
    const organization = await this.#options.admin.organization(slug);
    const outcome = await eraseOrganization(this.#options.database, organization.id);
    this.#options.forgetCached();
    if (!outcome) throw ApiError.notFound(`no organization "${slug}"`);
    if ('running' in outcome) {
      throw new ApiError(ErrorCode.conflict, `organization "${slug}" has ${outcome.running} executions running; cancel them or wait, then erase it`);
    }
    const removed = await this.#options.removeVolumeFiles(organization.id, VOLUME_REMOVAL_BUDGET_MS).then(
      () => true,
      (error: unknown) => {
        this.#options.logger.error('volume files of an erased organization not removed', { organization: organization.id, error: String(error) });
        return false;
      },
    );
    return { erased: outcome.erased, volume_files_removed: removed };
  }
}
