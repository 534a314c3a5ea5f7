import type { MeResponse, MemberSummary, UserSummary } from '@airlock/contracts';
import { UniqueViolationError, type AdminRole, type Member, type OrganizationRepository, type User, type UserRepository } from '@airlock/db';
import { ApiError } from '../shared/api-error.js';
import { roleIn, type AdminPrincipal } from './admin-principal.js';
import type { SessionService } from './session-service.js';

/** Users and organization members, as owners manage them, and who the caller is. */
export class IdentityService {
  readonly #users: UserRepository;
  readonly #organizations: OrganizationRepository;
  readonly #sessions: SessionService;

  constructor(options: { users: UserRepository; organizations: OrganizationRepository; sessions: SessionService }) {
    this.#users = options.users;
    this.#organizations = options.organizations;
    this.#sessions = options.sessions;
  }

  async listUsers(): Promise<UserSummary[]> {
    return (await this.#users.list()).map(summarizeUser);
  }

  async listMembers(orgId: string): Promise<MemberSummary[]> {
    return (await this.#users.members(orgId)).map(summarizeMember);
  }

  /** Gives the user with this email a role in the organization (made when unknown); it stays what it is set to. */
  async setMember(orgId: string, request: { email: string; role: AdminRole }): Promise<{ member: MemberSummary; created: boolean }> {
    let user = await this.#users.findByEmail(request.email);
    const created = user === null;
    if (!user) {
      try {
        user = await this.#users.create({ email: request.email });
      } catch (error) {
        if (!(error instanceof UniqueViolationError)) throw error;
        user = await this.#users.findByEmail(request.email);
      }
    }
    if (!user) throw ApiError.notFound(`no user ${request.email}`);
    const membership = await this.#users.setMembership(user.id, orgId, request.role);
    return { member: summarizeMember({ ...membership, user }), created };
  }

  async removeMember(orgId: string, userId: string): Promise<void> {
    if (!(await this.#users.removeMembership(userId, orgId))) throw ApiError.notFound(`no member ${userId} in this organization`);
  }

  /** The caller: its user (for a session), its roles and the organizations it is a member of. */
  async me(principal: AdminPrincipal): Promise<MeResponse> {
    const user = principal.userId === null ? null : await this.#users.get(principal.userId);
    // With a role over every organization, every one of them; otherwise those it is a member of.
    const candidates =
      principal.instanceRole === null
        ? (await Promise.all([...principal.organizationRoles.keys()].map((orgId) => this.#organizations.get(orgId)))).filter((found) => found !== null)
        : await this.#organizations.list();
    const organizations = candidates.flatMap((organization) => {
      const role = roleIn(principal, organization.id);
      return role === undefined ? [] : [{ id: organization.id, slug: organization.slug, name: organization.name, role }];
    });
    const sessions = principal.userId === null ? [] : await this.#sessions.list(principal.userId, principal.sessionId);
    return {
      user: user ? summarizeUser(user) : null,
      actor: principal.actor,
      auth_method: principal.authMethod,
      instance_role: principal.instanceRole,
      organizations: organizations.sort((a, b) => a.slug.localeCompare(b.slug)),
      session: sessions.find((session) => session.current) ?? null,
    };
  }
}

function summarizeUser(user: User): UserSummary {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    instance_role: user.instanceRole,
    signs_in_with: user.oidcSubject !== null ? 'oidc' : user.instanceRole === 'owner' && user.instanceRoleSource === 'manual' ? 'link' : 'none',
    last_sign_in_at: user.lastSignInAt?.toISOString() ?? null,
    created_at: user.createdAt.toISOString(),
  };
}

function summarizeMember(member: Member): MemberSummary {
  return { user: summarizeUser(member.user), role: member.role, source: member.source };
}
