import {
  ErrorCode,
  MeResponse,
  MemberListResponse,
  MemberPath,
  MemberSummary,
  OrganizationQuery,
  SessionListResponse,
  SessionPath,
  SessionSummary,
  SetMemberRequest,
  UserListResponse,
} from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { IdentityService } from './identity-service.js';
import type { SessionService } from './session-service.js';

/** Who the caller is, its sessions, the installation's users and each organization's members. */
export function identityOperations(
  services: { identity: IdentityService; sessions: SessionService; organizations: { organization(slug?: string): Promise<{ id: string }> } },
  declare: DeclareAdminOperation,
): Operation[] {
  const { identity, sessions, organizations } = services;
  return [
    declare({
      method: 'get',
      path: '/admin/v1/me',
      operationId: 'adminMe',
      audit: { action: 'me.read', target: 'user' },
      role: 'signed_in',
      summary: 'Who is calling: the user or admin token, its roles and organizations',
      response: MeResponse,
      codes: [],
      handle: async (context, { principal }) => context.json(await identity.me(principal)),
    }),
    declare({
      method: 'get',
      path: '/admin/v1/sessions',
      operationId: 'adminListSessions',
      audit: { action: 'session.list', target: 'session' },
      role: 'signed_in',
      summary: "The signed-in user's sessions that have not ended",
      response: SessionListResponse,
      codes: [],
      handle: async (context, { principal }) =>
        context.json({ sessions: principal.userId === null ? [] : await sessions.list(principal.userId, principal.sessionId) }),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/sessions/{id}',
      operationId: 'adminRevokeSession',
      audit: { action: 'session.revoke', target: 'session' },
      role: 'signed_in',
      summary: 'End a session',
      description: "One's own, or anyone's as an owner over every organization. It ends at once on every server.",
      params: SessionPath,
      response: SessionSummary,
      codes: [],
      handle: async (context, { params, principal }) => context.json(await sessions.revoke(params.id, principal)),
    }),
    declare({
      method: 'get',
      path: '/admin/v1/users',
      operationId: 'adminListUsers',
      audit: { action: 'user.list', target: 'user' },
      role: 'admin',
      summary: 'List the users of the installation',
      response: UserListResponse,
      codes: [],
      handle: async (context) => context.json({ users: await identity.listUsers() }),
    }),
    declare({
      method: 'get',
      path: '/admin/v1/members',
      operationId: 'adminListMembers',
      audit: { action: 'member.list', target: 'member' },
      summary: "List an organization's members and their roles",
      query: OrganizationQuery,
      response: MemberListResponse,
      codes: [],
      handle: async (context, { query }) => context.json({ members: await identity.listMembers((await organizations.organization(query.organization)).id) }),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/members',
      operationId: 'adminSetMember',
      audit: { action: 'member.set', target: 'member' },
      role: 'owner',
      summary: "Give someone a role in an organization (or change it)",
      description:
        'The user is made when its email is unknown; it signs in through the identity provider with that email (verified). ' +
        "A role set here stays whatever the provider's claims say.",
      query: OrganizationQuery,
      body: SetMemberRequest,
      status: 201,
      response: MemberSummary,
      codes: [ErrorCode.payloadTooLarge],
      handle: async (context, { query, body, audit }) => {
        const { member, created } = await identity.setMember((await organizations.organization(query.organization)).id, body);
        audit.describe({ targetId: member.user.id, after: { email: member.user.email, role: member.role }, extra: { user_created: created } });
        return context.json(member, 201);
      },
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/members/{user_id}',
      operationId: 'adminRemoveMember',
      audit: { action: 'member.remove', target: 'member' },
      role: 'owner',
      summary: "Remove someone's role in an organization",
      description: "A role that comes from the identity provider's claims comes back at its next sign-in while the claims give it.",
      query: OrganizationQuery,
      params: MemberPath,
      status: 204,
      codes: [],
      handle: async (context, { query, params }) => {
        await identity.removeMember((await organizations.organization(query.organization)).id, params.user_id);
        return context.body(null, 204);
      },
    }),
  ];
}
