import { ADMIN_ROLES } from '@airlock/contracts';
import type { AdminRole } from '@airlock/db';
import { strongerRole } from './admin-principal.js';

/** Every organization, in a rule's target. */
const EVERY_ORGANIZATION = '*';

/** A rule: when `match` is among the values (a claim's, or the email's domain), grant `role` in `organization`. */
export interface RoleRule {
  match: string;
  /** An organization slug, or `*` for a role over every organization. */
  organization: string;
  role: AdminRole;
}

/** The roles the identity provider's claims give: over every organization, and per organization slug. */
export interface MappedRoles {
  instanceRole: AdminRole | null;
  organizationRoles: Map<string, AdminRole>;
}

/**
 * Parses `value=role`, `value=slug:role` or `value=*:role` rules separated by commas (`role` alone means in the
 * default organization). Throws an Error naming the rule that is not one.
 */
export function parseRoleRules(text: string, defaultOrganization: string): RoleRule[] {
  return text
    .split(',')
    .map((rule) => rule.trim())
    .filter((rule) => rule !== '')
    .map((rule) => {
      const match = /^([^=]+)=(?:([a-z0-9*][a-z0-9-]{0,62}):)?([a-z]+)$/.exec(rule);
      const role = match?.[3] as AdminRole | undefined;
      if (!match || role === undefined || !ADMIN_ROLES.includes(role)) {
        throw new Error(`"${rule}" is not a rule: write value=role, value=organization:role or value=*:role (roles: ${ADMIN_ROLES.join(', ')})`);
      }
      return { match: (match[1] ?? '').trim(), organization: match[2] ?? defaultOrganization, role };
    });
}

/** The values of a claim named by a dotted path (`groups`, `realm_access.roles`): a string or a list of strings. */
function claimValues(claims: Record<string, unknown>, path: string): string[] {
  let value: unknown = claims;
  for (const segment of path.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[segment] : undefined;
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * The roles the rules give for a sign-in: claim rules by the role claim's values, domain rules by the email's domain
 * when the provider says the email is verified. Where rules give several roles, the strongest counts.
 */
export function mapRoles(
  claims: Record<string, unknown>,
  settings: { roleClaim: string; claimRules: RoleRule[]; domainRules: RoleRule[] },
): MappedRoles {
  const values = new Set(claimValues(claims, settings.roleClaim));
  const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : '';
  const domain = claims.email_verified === true && email.includes('@') ? email.slice(email.lastIndexOf('@') + 1) : null;
  const granted = [
    ...settings.claimRules.filter((rule) => values.has(rule.match)),
    ...settings.domainRules.filter((rule) => domain !== null && rule.match.toLowerCase() === domain),
  ];
  const mapped: MappedRoles = { instanceRole: null, organizationRoles: new Map() };
  for (const rule of granted) {
    if (rule.organization === EVERY_ORGANIZATION) {
      mapped.instanceRole = strongerRole(mapped.instanceRole ?? undefined, rule.role);
    } else {
      mapped.organizationRoles.set(rule.organization, strongerRole(mapped.organizationRoles.get(rule.organization), rule.role));
    }
  }
  return mapped;
}
