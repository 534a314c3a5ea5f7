import { randomBytes } from 'node:crypto';

/** The prefix of each kind of id, e.g. `org_5k2q...`. */
export const ID_PREFIXES = {
  organization: 'org',
  sandboxConfig: 'sbx',
  apiKey: 'key',
  execution: 'trc',
  storageConnection: 'stc',
  volume: 'vol',
  storageAttachment: 'att',
  connector: 'con',
  adminToken: 'adt',
  user: 'usr',
  session: 'ses',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

/** Crockford's base32 alphabet in lower case: no i, l, o or u, so ids read back unambiguously. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const RANDOM_CHARACTERS = 20;

/** A new random id such as `org_0f3kq8v2m1x9c7hz4r6t`: the kind's prefix, `_`, then 20 base32 characters (100 bits). */
export function generateId(kind: IdKind): string {
  const bytes = randomBytes(RANDOM_CHARACTERS);
  let suffix = '';
  // 256 is a multiple of 32, so taking each byte modulo 32 keeps every character equally likely.
  for (const byte of bytes) suffix += ALPHABET[byte % ALPHABET.length];
  return `${ID_PREFIXES[kind]}_${suffix}`;
}
