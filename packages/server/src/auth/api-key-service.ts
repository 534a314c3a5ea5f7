import {
  API_KEY_PATTERN,
  API_KEY_RULE,
  effectiveNetwork,
  effectiveWebPolicy,
  type KeyStorage,
  type NetworkNarrowing,
  type NetworkPolicy,
  type WebNarrowing,
  type WebPolicySettings,
} from '@airlock/contracts';
import type { ApiKey, ApiKeyRepository, Organization, SandboxConfig } from '@airlock/db';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../shared/api-error.js';
import { randomToken, sha256 } from '../shared/secrets.js';

/**
 * Who is calling, as established from an API key. The web tools' policy is `sandboxConfig.web` as `apiKey.web`
 * narrows it (webPolicyOf).
 */
export interface Principal {
  apiKey: ApiKey;
  organization: Organization;
  sandboxConfig: SandboxConfig;
}

/** The network the principal's sandboxes run with: its sandbox config's, as its API key narrows it. */
export function networkOf(principal: Principal): NetworkPolicy {
  const { apiKey, sandboxConfig } = principal;
  const narrowing: NetworkNarrowing | null =
    apiKey.networkOverride === null ? null : { mode: apiKey.networkOverride, allow: apiKey.networkAllow };
  return effectiveNetwork({ mode: sandboxConfig.network, allow: sandboxConfig.networkAllow }, narrowing);
}

/** The web policy the principal's calls run with: its sandbox config's, as its API key narrows it; null when the tools are off. */
export function webPolicyOf(principal: Principal): WebPolicySettings | null {
  return effectiveWebPolicy(principal.sandboxConfig.web, principal.apiKey.web);
}

export interface CreatedApiKey extends ApiKey {
  /** The whole key; shown once, never stored. */
  key: string;
}

const CACHED_PRINCIPALS = 10_000;

export class ApiKeyService {
  readonly #keys: ApiKeyRepository;
  readonly #region: string;
  /** Principals by secret hash, so a busy key costs no database round trip before its code runs. */
  readonly #principals: LRUCache<string, Principal> | undefined;

  /**
   * `cacheSeconds`: how long a successful authentication is reused. Changes made through this server (revoking a key,
   * updating a sandbox config) take effect at once; changes made on another server within this time. 0 turns it off.
   */
  constructor(options: { keys: ApiKeyRepository; region: string; cacheSeconds: number }) {
    this.#keys = options.keys;
    this.#region = options.region;
    this.#principals =
      options.cacheSeconds > 0
        ? new LRUCache({ max: CACHED_PRINCIPALS, ttl: options.cacheSeconds * 1000, ttlAutopurge: false })
        : undefined;
  }

  /** Creates a key; pass `key` to register a given one (bootstrap), otherwise a random one is generated. */
  async create(options: {
    orgId: string;
    sandboxConfigId: string;
    name: string;
    key?: string;
    envVars?: Record<string, string>;
    networkOverride?: NetworkNarrowing['mode'] | null;
    /** With networkOverride 'allowlist': the entries the key keeps; null keeps its sandbox config's. */
    networkAllow?: string[] | null;
    /** How the key narrows its sandbox config's mounts, checked by the caller. */
    storage?: KeyStorage;
    /** The sandbox config's connectors the key keeps (checked by the caller); null keeps them all. */
    connectors?: string[] | null;
    /** How the key narrows its sandbox config's web policy (checked by the caller); null keeps it. */
    web?: WebNarrowing | null;
  }): Promise<CreatedApiKey> {
    const { key, secretSha256, displayPrefix } = this.#secret(options.key);
    const record = await this.#keys.create({
      orgId: options.orgId,
      sandboxConfigId: options.sandboxConfigId,
      name: options.name,
      secretSha256,
      displayPrefix,
      networkOverride: options.networkOverride ?? null,
      networkAllow: options.networkAllow ?? null,
      storage: options.storage ?? {},
      connectors: options.connectors ?? null,
      web: options.web ?? null,
      envVars: options.envVars ?? {},
    });
    return { ...record, key };
  }

  /** Gives an unrevoked key a new secret, returned once; the old secret stops working. Null when there is no such key. */
  async rotate(orgId: string, id: string): Promise<CreatedApiKey | null> {
    const { key, secretSha256, displayPrefix } = this.#secret();
    const rotated = await this.#keys.rotate(orgId, id, { secretSha256, displayPrefix });
    if (!rotated) return null;
    this.#principals?.delete(rotated.previousSecretSha256.toString('base64'));
    return { ...rotated.apiKey, key };
  }

  /** A key (`given`, or a new random one) with what is stored of it. */
  #secret(given?: string): { key: string; secretSha256: Buffer; displayPrefix: string } {
    const key = given ?? `sk-${this.#region}-${randomToken(32)}`;
    if (!API_KEY_PATTERN.test(key)) throw ApiError.validation(`key must look like ${API_KEY_RULE}`);
    return { key, secretSha256: sha256(key), displayPrefix: `${key.slice(0, key.indexOf('-', 3) + 5)}...` };
  }

  /** Resolves a bearer token to its principal, or throws 401. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const key = match?.[1];
    if (!key || !API_KEY_PATTERN.test(key)) throw ApiError.unauthorized();
    const secretHash = sha256(key);
    const cacheKey = secretHash.toString('base64');
    const cached = this.#principals?.get(cacheKey);
    if (cached) return cached;
    const authorization = await this.#keys.findActiveBySecretHash(secretHash);
    if (!authorization) throw ApiError.unauthorized();
    this.#principals?.set(cacheKey, authorization);
    // The last use is recorded at a coarse resolution (LAST_USED_RESOLUTION_SECONDS), so once per cache fill is enough.
    void this.#keys.touchLastUsed(authorization.organization.id, authorization.apiKey.id).catch(() => undefined);
    return authorization;
  }

  /** Forgets every cached authentication: called when a key, its sandbox config or its organization changes. */
  forgetCachedPrincipals(): void {
    this.#principals?.clear();
  }
}
