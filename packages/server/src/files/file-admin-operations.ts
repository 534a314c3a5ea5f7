import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { FileService } from './file-service.js';

/** Files of an organization's volumes and threads for its operators, through the same signed URLs as the API's. */
export function fileAdminOperations(
  _files: FileService,
  _organizations: { organization(slug?: string): Promise<{ id: string }> },
  _publicUrl: string | undefined,
  _declare: DeclareAdminOperation,
): Operation[] {
  return [];
}
