import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { UsageService } from './usage-service.js';

/** The organization's use over recent days. */
export function usageOperations(
  _usage: UsageService,
  _organizations: { organization(slug?: string): Promise<{ id: string }> },
  _declare: DeclareAdminOperation,
): Operation[] {
  return [];
}
