import type { Principal } from '../auth/api-key-service.js';

/** Values the middleware sets on each request. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** performance.now() when the request arrived. */
    acceptedAt: number;
    principal: Principal;
  };
}
