import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../shared/api-error.js';

/** What a signed file URL allows: one method on one file of one thread or volume, until it expires. */
export type FileUrlClaims = {
  method: 'GET' | 'PUT';
  orgId: string;
  /** Relative to the thread's home, or to the volume's directory the request saw (its root, or an API key's prefix). */
  path: string;
  /** Unix seconds. */
  expiresAt: number;
  /** PUT: the exact body size the upload must have. */
  contentLength?: number;
} & (
  | {
      threadId: string;
      /** PUT: the retention the thread has after the upload (that of a thread the upload creates). */
      retention?: string;
    }
  | {
      volumeId: string;
      /** The API key's prefix inside the volume ("" for none, and for operators): `path` lies below it. */
      base: string;
      /** Whether the key reads the volume read-only (it then shares its calls' read-only bucket mount). */
      readOnly: boolean;
      /** PUT: the volume's slug, quota and recorded usage when the URL was made. */
      quota: VolumeQuotaClaims;
    }
);

/** A volume's quota as a signed upload URL carries it. */
export interface VolumeQuotaClaims {
  slug: string;
  quotaBytes: number | null;
  usedBytes: number | null;
}

/**
 * HMAC-SHA256 signed, expiring tokens for the file URLs Airlock serves itself (the local blob store). The token
 * carries its claims, so any node with the same key can serve it; the method and the file are part of what is signed.
 */
export class UrlSigner {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('the URL signing key must have at least 32 bytes');
    this.#key = key;
  }

  sign(claims: FileUrlClaims): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${payload}.${this.#mac(payload)}`;
  }

  /** The claims of a valid, unexpired token used with its own method; 403 otherwise. */
  verify(token: string, method: string, now = Date.now()): FileUrlClaims {
    const [payload, mac, ...rest] = token.split('.');
    const given = Buffer.from(mac ?? '');
    const expected = Buffer.from(payload ? this.#mac(payload) : '');
    if (!payload || !mac || rest.length > 0 || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw ApiError.forbidden('invalid file URL signature');
    }
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as FileUrlClaims;
    if (claims.method !== method) throw ApiError.forbidden(`this file URL is for ${claims.method}, not ${method}`);
    if (claims.expiresAt * 1000 < now) throw ApiError.forbidden('this file URL has expired');
    return claims;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#key).update(`airlock-file-url.v1.${payload}`).digest('base64url');
  }
}
