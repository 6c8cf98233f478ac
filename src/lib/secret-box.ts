// AES-256-GCM sealing of secrets kept at rest (API key secrets, TOTP seeds) under the master key,
// and HMAC-signed tokens for what needs no secrecy, only proof that we issued it (price quotes).
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 'v1';

/** Seals and opens secrets under one key (the `secretBox` decorator of plugins/secrets.ts). */
export interface SecretBox {
  // Function properties, not methods: callers pass them around detached (`seal: app.secretBox.seal`).
  seal: (plaintext: string) => string;
  open: (sealed: string) => string;
}

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
  return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join(
    '.',
  );
}

export function openSecret(masterKey: Buffer, sealed: string): string {
  const [version, iv, tag, ct] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || ct === undefined) throw new Error('unknown sealed secret format');
  const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}

/** A key of its own for one purpose, derived from the master key: a token signed for one use is never valid for another. */
export function subkey(masterKey: Buffer, purpose: string): Buffer {
  return createHmac('sha256', masterKey).update(`reseller-api/${purpose}`).digest();
}

// 128 bits of HMAC-SHA256: forging one takes 2^128 tries, each a request we rate-limit.
const TAG_BYTES = 16;
const tagOf = (key: Buffer, body: string) => createHmac('sha256', key).update(body).digest().subarray(0, TAG_BYTES);

/** `payload` readable but unalterable: base64url(payload).base64url(tag). Half the CPU of sealing. */
export function signToken(key: Buffer, payload: string): string {
  const body = Buffer.from(payload, 'utf8').toString('base64url');
  return `${body}.${tagOf(key, body).toString('base64url')}`;
}

/** The payload of a token `signToken(key, ...)` made, or null for any other string. */
export function verifyToken(key: Buffer, token: string): string | null {
  const dot = token.lastIndexOf('.');
  if (dot < 0) return null;
  const body = token.slice(0, dot);
  const tag = Buffer.from(token.slice(dot + 1), 'base64url');
  if (tag.length !== TAG_BYTES || !timingSafeEqual(tag, tagOf(key, body))) return null;
  return Buffer.from(body, 'base64url').toString('utf8');
}
