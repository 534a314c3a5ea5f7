import type { AuditNote } from '../audit/audit-note.js';
import type { AdminPrincipal } from '../auth/admin-principal.js';
import type { Principal } from '../auth/api-key-service.js';

/** Values the middleware sets on each request. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** performance.now() when the request arrived. */
    acceptedAt: number;
    principal: Principal;
    /** The caller of an admin operation. */
    adminPrincipal: AdminPrincipal;
    /** What an admin operation's audit entry records. */
    auditNote: AuditNote;
    /** Reads the request's body in full, once (wholeBody). */
    body: () => Promise<Uint8Array>;
  };
}
