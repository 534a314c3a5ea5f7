import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { NodeKeyFingerprints } from '@airlock/db';

/** The header a node signs its calls to another node with. */
export const NODE_SIGNATURE_HEADER = 'x-airlock-node-signature';
/** How far a signature's time may be from the receiving node's clock. */
const MAX_SKEW_SECONDS = 60;

/**
 * Signs and checks calls between the nodes of one deployment with a key derived from the master key they share:
 * `t=<unix seconds>,v1=<HMAC-SHA256 of the time, method and path with query>`, valid for a minute either way.
 */
export class NodeSignature {
  readonly #key: Buffer;

  constructor(masterKey: Buffer) {
    this.#key = createHmac('sha256', masterKey).update('airlock node calls').digest();
  }

  sign(method: string, pathAndQuery: string, now = Date.now()): string {
    const time = Math.floor(now / 1000);
    return `t=${time},v1=${this.#mac(time, method, pathAndQuery).toString('hex')}`;
  }

  verify(header: string | undefined, method: string, pathAndQuery: string, now = Date.now()): boolean {
    const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '');
    if (!match) return false;
    const time = Number(match[1]);
    if (Math.abs(now / 1000 - time) > MAX_SKEW_SECONDS) return false;
    return timingSafeEqual(Buffer.from(match[2] ?? '', 'hex'), this.#mac(time, method, pathAndQuery));
  }

  #mac(time: number, method: string, pathAndQuery: string): Buffer {
    return createHmac('sha256', this.#key).update(`${time}\n${method.toUpperCase()}\n${pathAndQuery}`).digest();
  }
}

/** Fingerprints of the keys every node must share: they tell whether two nodes hold the same keys, nothing more. */
export function keyFingerprints(masterKeys: readonly Buffer[], urlSigningKey: Buffer): NodeKeyFingerprints {
  const fingerprint = (key: Buffer, use: string) => createHash('sha256').update(`airlock ${use} fingerprint\n`).update(key).digest('hex').slice(0, 16);
  return { masterKeys: masterKeys.map((key) => fingerprint(key, 'master key')), urlKey: fingerprint(urlSigningKey, 'url key') };
}

/**
 * Why a node with `ours` keys cannot serve beside a node with `theirs`, or null when it can: the URL signing key must be
 * the same, and the master key lists must share a key (a rotation adds the new key first on every node in turn).
 */
export function keyMismatch(ours: NodeKeyFingerprints, theirs: NodeKeyFingerprints): string | null {
  if (ours.urlKey !== theirs.urlKey) return 'AIRLOCK_URL_SIGNING_KEY differs';
  if (!ours.masterKeys.some((key) => theirs.masterKeys.includes(key))) return 'AIRLOCK_MASTER_KEY shares no key';
  return null;
}
