import { z } from 'zod';
import { AdminRole } from './admin.js';
import { Text } from './text.js';

/** Users, members, sessions and sign-in (`/admin/v1/members`, `/admin/v1/sessions`, `/auth/...`). */

const Timestamp = z.iso.datetime();

export const SessionSummary = z
  .object({
    id: z.string(),
    method: z.enum(['oidc', 'link']).describe('how it signed in: the identity provider, or a one-time link'),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    created_at: Timestamp,
    last_seen_at: Timestamp,
    expires_at: Timestamp.describe('its absolute end; it also ends when unused for the idle time'),
    current: z.boolean().describe('whether it is the session of this request'),
  })
  .meta({ id: 'SessionSummary' });
export type SessionSummary = z.infer<typeof SessionSummary>;
export const SessionListResponse = z.object({ sessions: z.array(SessionSummary) });
export const SessionPath = z.object({ id: Text.describe('the session id from the session list') });

export const UserSummary = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    instance_role: AdminRole.nullable().describe('a role over every organization; null: only its memberships'),
    signs_in_with: z.enum(['oidc', 'link', 'none']).describe('its identity provider, the bootstrap link, or not yet'),
    last_sign_in_at: Timestamp.nullable(),
    created_at: Timestamp,
  })
  .meta({ id: 'UserSummary' });
export type UserSummary = z.infer<typeof UserSummary>;
export const UserListResponse = z.object({ users: z.array(UserSummary) });

export const MemberSummary = z
  .object({
    user: UserSummary,
    role: AdminRole,
    source: z.enum(['oidc', 'manual']).describe("'oidc': from the identity provider's claims at each sign-in; 'manual': set by an owner"),
  })
  .meta({ id: 'MemberSummary' });
export type MemberSummary = z.infer<typeof MemberSummary>;
export const MemberListResponse = z.object({ members: z.array(MemberSummary) });

export const SetMemberRequest = z.strictObject({
  email: z
    .email()
    .max(254)
    .describe('the user, made when unknown; it signs in through the identity provider with this (verified) email'),
  role: AdminRole,
});
export type SetMemberRequest = z.infer<typeof SetMemberRequest>;
export const MemberPath = z.object({ user_id: Text.describe('the user id from the member list') });

export const MeResponse = z
  .object({
    user: UserSummary.nullable().describe('null for an admin token'),
    actor: z.string().describe('as the audit log names the caller'),
    auth_method: z.enum(['session', 'admin_token']),
    instance_role: AdminRole.nullable(),
    organizations: z.array(z.object({ id: z.string(), slug: z.string(), name: z.string(), role: AdminRole })),
    session: SessionSummary.nullable(),
  })
  .meta({ id: 'MeResponse' });
export type MeResponse = z.infer<typeof MeResponse>;
