import type { MeResponse } from '@airlock/contracts';
import { useQuery } from '@tanstack/react-query';
import { createContext, useContext, type ReactNode } from 'react';
import { ApiFailure, get } from './api.js';

/** Who is signed in, and the organization the pages act on. */
export interface Session {
  me: MeResponse;
  organization: string;
  /** Whether the caller's role in `organization` allows `role`'s actions. */
  can(role: 'viewer' | 'admin' | 'owner'): boolean;
}

const SessionContext = createContext<Session | null>(null);
const RANK = { viewer: 0, admin: 1, owner: 2 } as const;

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

/** Loads who is signed in; renders `signedOut` when no one is. */
export function SessionProvider(props: { organization: string; signedOut: ReactNode; children: ReactNode }) {
  const me = useQuery({ queryKey: ['me'], queryFn: () => get<MeResponse>('/admin/v1/me'), retry: false });
  if (me.isPending) return <p className="p-8 text-slate-500">Loading…</p>;
  if (me.error instanceof ApiFailure && me.error.status === 401) return <>{props.signedOut}</>;
  if (me.error) return <p role="alert" className="p-8 text-red-700">{me.error.message}</p>;
  // The chosen organization while the caller still belongs to it (it may have been deleted or erased since).
  const chosen = me.data.organizations.some((candidate) => candidate.slug === props.organization) ? props.organization : '';
  const organization = chosen || me.data.organizations[0]?.slug || 'default';
  const role = me.data.organizations.find((candidate) => candidate.slug === organization)?.role ?? me.data.instance_role;
  const session: Session = {
    me: me.data,
    organization,
    can: (needed) => role !== null && role !== undefined && RANK[role] >= RANK[needed],
  };
  return <SessionContext.Provider value={session}>{props.children}</SessionContext.Provider>;
}
