import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

/** Thrown when a sealed value cannot be opened: unknown key id, wrong context, or tampered bytes. */
export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
}

/**
 * Seals secrets for storage with AES-256-GCM and a random nonce per value. A sealed value reads
 * `v1.<key id>.<base64url(nonce | ciphertext | tag)>`: the key id names the master key that sealed it, so keys can
 * rotate (the first key seals, every key opens). `context` (e.g. the row the value belongs to) is authenticated
 * data: a value copied to another row does not open.
 */
export class SecretBox {
  readonly #keys: Map<string, Buffer>;
  readonly #sealingKeyId: string;

  /** @param keys 32-byte master keys, the current one first. */
  constructor(keys: readonly Buffer[]) {
    const [first] = keys;
    if (!first) throw new Error('SecretBox needs at least one master key');
    for (const key of keys) if (key.length !== 32) throw new Error('master keys are 32 bytes');
    this.#keys = new Map(keys.map((key) => [keyId(key), key]));
    this.#sealingKeyId = keyId(first);
  }

  seal(plaintext: string, context: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#sealingKeyId) as Buffer, nonce);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const packed = Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]).toString('base64url');
    return `${VERSION}.${this.#sealingKeyId}.${packed}`;
  }

  open(sealed: string, context: string): string {
    const [version, id, packed] = sealed.split('.');
    if (version !== VERSION || id === undefined || packed === undefined) throw new SecretBoxError('not a sealed value');
    const key = this.#keys.get(id);
    if (!key) throw new SecretBoxError(`sealed with master key ${id}, which this server does not have`);
    const bytes = Buffer.from(packed, 'base64url');
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new SecretBoxError('sealed value is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('sealed value does not authenticate (tampered, or another context)');
    }
  }
}

/** A short public name of a key: the start of its SHA-256. */
function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}
