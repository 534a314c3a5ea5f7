import type { AdminRole, AuditAuthMethod } from '@airlock/db';

export type { AdminRole };

/** Who calls the admin API: an admin token or a signed-in user, with a role. */
export interface AdminPrincipal {
  /** As the audit log names it: the user's email or the admin token's name. */
  actor: string;
  authMethod: Extract<AuditAuthMethod, 'admin_token' | 'session'>;
  role: AdminRole;
  /** The organizations it may act on; null: every one. */
  organizationIds: string[] | null;
}

const RANK: Record<AdminRole, number> = { viewer: 0, admin: 1, owner: 2 };

/** Whether `role` includes what `needed` may do (owner > admin > viewer). */
export function roleAllows(role: AdminRole, needed: AdminRole): boolean {
  return RANK[role] >= RANK[needed];
}
