import type { AdminTokenSummary, CreatedAdminTokenResponse } from '@airlock/contracts';
import { UniqueViolationError, type AdminRole, type AdminToken, type AdminTokenRepository } from '@airlock/db';
import { ApiError } from '../shared/api-error.js';
import { randomToken, sha256 } from '../shared/secrets.js';
import type { AdminPrincipal } from './admin-principal.js';

/** What an admin token may be: 8-256 printable ASCII characters (the server makes `adm-` and 43 URL-safe ones). */
const ADMIN_TOKEN_PATTERN = /^[\x21-\x7e]{8,256}$/;
const BOOTSTRAP_TOKEN_NAME = 'bootstrap';

/** Named, hashed, revocable admin tokens; each authenticates as its name with its role over every organization. */
export class AdminTokenService {
  readonly #tokens: AdminTokenRepository;

  constructor(tokens: AdminTokenRepository) {
    this.#tokens = tokens;
  }

  /** The principal of a bearer admin token; null when it is malformed, unknown or revoked. */
  async authenticate(token: string): Promise<AdminPrincipal | null> {
    if (!ADMIN_TOKEN_PATTERN.test(token)) return null;
    const found = await this.#tokens.findActiveBySecretHash(sha256(token));
    if (!found) return null;
    void this.#tokens.touchLastUsed(found.id).catch(() => undefined);
    return { actor: found.name, authMethod: 'admin_token', instanceRole: found.role, organizationRoles: new Map(), sessionId: null, userId: null };
  }

  /**
   * Registers the token the server was started with (AIRLOCK_ADMIN_TOKEN or the data directory's file) as the owner
   * token `bootstrap`, unless it was registered before: a revoked bootstrap token stays revoked.
   */
  async bootstrap(token: string): Promise<void> {
    if (!ADMIN_TOKEN_PATTERN.test(token)) {
      throw new Error('the admin token (AIRLOCK_ADMIN_TOKEN or <data dir>/admin-token) must be 8-256 printable ASCII characters without spaces');
    }
    if (await this.#tokens.exists(sha256(token))) return;
    await this.#create({ name: BOOTSTRAP_TOKEN_NAME, role: 'owner', createdBy: 'system', token }).catch((error: unknown) => {
      if (!(error instanceof UniqueViolationError)) throw error;
    });
  }

  async list(): Promise<AdminTokenSummary[]> {
    return (await this.#tokens.list()).map(summarizeAdminToken);
  }

  async create(request: { name: string; role: AdminRole }, createdBy: string): Promise<CreatedAdminTokenResponse> {
    try {
      const { record, token } = await this.#create({ ...request, createdBy });
      return { ...summarizeAdminToken(record), token };
    } catch (error) {
      if (error instanceof UniqueViolationError) throw new ApiError('conflict', `an unrevoked admin token is named "${request.name}"; revoke it or pick another name`);
      throw error;
    }
  }

  async revoke(id: string): Promise<AdminTokenSummary> {
    const revoked = await this.#tokens.revoke(id);
    if (!revoked) throw ApiError.notFound(`no unrevoked admin token ${id}`);
    return summarizeAdminToken(revoked);
  }

  async #create(options: { name: string; role: AdminRole; createdBy: string; token?: string }): Promise<{ record: AdminToken; token: string }> {
    const token = options.token ?? `adm-${randomToken(32)}`;
    const record = await this.#tokens.create({
      name: options.name,
      role: options.role,
      createdBy: options.createdBy,
      secretSha256: sha256(token),
      displayPrefix: `${token.slice(0, 8)}...`,
    });
    return { record, token };
  }
}

function summarizeAdminToken(token: AdminToken): AdminTokenSummary {
  return {
    id: token.id,
    name: token.name,
    display_prefix: token.displayPrefix,
    role: token.role,
    created_by: token.createdBy,
    created_at: token.createdAt.toISOString(),
    last_used_at: token.lastUsedAt?.toISOString() ?? null,
    revoked_at: token.revokedAt?.toISOString() ?? null,
  };
}
