import type { AdminRole, AuditAuthMethod } from '@airlock/db';
import { ApiError } from '../shared/api-error.js';

export type { AdminRole };

/** Who calls the admin API: an admin token or a signed-in user, with its roles. */
export interface AdminPrincipal {
  /** As the audit log names it: the user's email or the admin token's name. */
  actor: string;
  authMethod: Extract<AuditAuthMethod, 'admin_token' | 'session'>;
  /** A role over every organization (admin tokens, operators); null: only `organizationRoles`. */
  instanceRole: AdminRole | null;
  /** Roles in single organizations, by organization id. */
  organizationRoles: ReadonlyMap<string, AdminRole>;
  /** The console session the request came with; null for admin tokens. */
  sessionId: string | null;
  /** The signed-in user; null for admin tokens. */
  userId: string | null;
}

const RANK: Record<AdminRole, number> = { viewer: 0, admin: 1, owner: 2 };

/** Whether `role` includes what `needed` may do (owner > admin > viewer). */
function roleAllows(role: AdminRole, needed: AdminRole): boolean {
  return RANK[role] >= RANK[needed];
}

/** The stronger of two roles. */
export function strongerRole(a: AdminRole | undefined, b: AdminRole): AdminRole {
  return a !== undefined && RANK[a] >= RANK[b] ? a : b;
}

/** Whether any of the principal's roles allows `needed` somewhere. */
export function anyRoleAllows(principal: AdminPrincipal, needed: AdminRole): boolean {
  const roles = [...principal.organizationRoles.values(), ...(principal.instanceRole === null ? [] : [principal.instanceRole])];
  return roles.some((role) => roleAllows(role, needed));
}

/** "the viewer role", "the admin and viewer roles", "no role": what the principal has anywhere. */
export function describeRoles(principal: AdminPrincipal): string {
  const roles = [...new Set([...(principal.instanceRole === null ? [] : [principal.instanceRole]), ...principal.organizationRoles.values()])].sort();
  if (roles.length === 0) return 'no role';
  return roles.length === 1 ? `the ${roles[0]} role` : `the ${roles.join(' and ')} roles`;
}

/** The principal's role in an organization (null: over every organization), if any. */
export function roleIn(principal: AdminPrincipal, orgId: string | null): AdminRole | undefined {
  const member = orgId === null ? undefined : principal.organizationRoles.get(orgId);
  if (principal.instanceRole === null) return member;
  return member === undefined ? principal.instanceRole : strongerRole(member, principal.instanceRole);
}

/**
 * Refuses an action the principal's role does not allow: 403 naming the role needed; within an organization it is not
 * a member of, 404 as if the organization did not exist (organizations are not disclosed to outsiders).
 */
export function authorize(principal: AdminPrincipal, request: { action: string; needed: AdminRole; organization: { id: string | null; slug: string } | null }): void {
  const { organization, needed, action } = request;
  const role = roleIn(principal, organization?.id ?? null);
  if (role === undefined) {
    if (organization !== null) throw ApiError.notFound(`no organization "${organization.slug}"`);
    throw ApiError.forbidden(`${action} needs the ${needed} role over every organization; ${principal.actor} has a role only in some`);
  }
  if (!roleAllows(role, needed)) {
    const where = organization === null ? '' : ` in organization "${organization.slug}"`;
    throw ApiError.forbidden(`${action} needs the ${needed} role${where}; ${principal.actor} has the ${role} role`);
  }
}
