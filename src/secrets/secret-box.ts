import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { NestorError } from '../errors.ts';

/** Marks a sealed value in a TEXT column; anything else is plain text from before sealing. */
const PREFIX = 'nestor-sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretKeyMismatchError extends NestorError {
  constructor(found: string, ours: string) {
    super(
      'NESTOR_SECRET_KEY_MISMATCH',
      `The store's secrets were sealed with another key (key id ${found}; this server's key is ${ours})`,
      'Give this server the key they were sealed with: set NESTOR_SECRET_KEY to the content of secret.key in the data directory of the server that sealed them (every server sharing one database needs the same key), or put that secret.key back from a backup.',
    );
  }
}

/**
 * AES-256-GCM under the server's one key, for the secrets kept in the store (registry
 * credentials, webhook secrets, repository credentials). Each value is bound to where it is
 * kept (`context`, e.g. "registry:ghcr.io"): a sealed value copied into another row does not
 * open there.
 */
export class SecretBox {
  /** A short fingerprint of the key, stored with each value so a wrong key is named, not guessed at. */
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new NestorError('NESTOR_SECRET_KEY_INVALID', `The secret key is ${key.length} bytes, not 32`, 'Give 32 random bytes, base64 or hex (openssl rand -base64 32).');
    this.key = Buffer.from(key);
    this.keyId = createHash('sha256').update('nestor secret key id\0').update(key).digest('hex').slice(0, 12);
  }

  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }

  /** The key id a sealed value names. */
  static keyIdOf(sealed: string): string | undefined {
    return SecretBox.isSealed(sealed) ? sealed.slice(PREFIX.length).split(':')[0] : undefined;
  }

  /**
   * An HMAC-SHA256 of `data` under a key derived from this one for `purpose` alone (HKDF), for
   * tokens the server checks without storing them (a job's token).
   */
  mac(purpose: string, data: string): Buffer {
    const key = Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), `nestor ${purpose}`, 32));
    return createHmac('sha256', key).update(data).digest();
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.keyId}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /** Opens a sealed value; a plain one (written before sealing, or by an older server) is returned as it is. */
  reveal(value: string, context: string): string {
    if (!SecretBox.isSealed(value)) return value;
    const [keyId, data = ''] = value.slice(PREFIX.length).split(':');
    if (keyId !== this.keyId) throw new SecretKeyMismatchError(keyId ?? '?', this.keyId);
    const raw = Buffer.from(data, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new NestorError('NESTOR_SECRET_UNREADABLE', `A stored secret (${context}) does not open with this server's key: it was changed or moved in the store`, 'Set that secret again (PUT /api/registries/HOST, or remove and add the application).');
    }
  }

  /** `reveal` for nullable columns. */
  revealOrNull(value: string | null | undefined, context: string): string | null {
    return value === null || value === undefined ? null : this.reveal(value, context);
  }

  sealOrNull(value: string | null | undefined, context: string): string | null {
    return value === null || value === undefined ? null : this.seal(value, context);
  }
}
