// AES-256-GCM sealing of secrets kept at rest (API key secrets, TOTP seeds) under the master key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

// IVs are cut from a pooled block of CSPRNG output: one call to the generator per 341 IVs instead
// of one per seal (a check seals a quote per name). The bytes are as random either way, and no
// slice is handed out twice.
const POOL_BYTES = 4092;
let pool = Buffer.alloc(0);
let offset = 0;
function freshIv(): Buffer {
  if (offset + 12 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  offset += 12;
  return pool.subarray(offset - 12, offset);
}

export function sealSecret(masterKey: Buffer, plaintext: string): string {
  const iv = freshIv();
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

export function openSecret(masterKey: Buffer, sealed: string): string {
  const [version, iv, tag, ct] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || ct === undefined) throw new Error('unknown sealed secret format');
  const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}
