// Webhook signing secrets in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes. We
// generate them (never the account), show each once (in the create or rotate response), and keep
// them sealed with the master key (app.secretBox). After a rotation the previous secret keeps
// signing until its expiry, so a receiver can switch over without dropping a delivery.
import { randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** 32 bytes: within the 24..64 bytes the Standard Webhooks libraries accept. */
export const SECRET_BYTES = 32;

/** A fresh signing secret: `whsec_` + base64 (standard alphabet, padded) of 32 CSPRNG bytes. */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

/** The HMAC key of a secret: the base64-decoded part after `whsec_`. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** The sealed columns of an endpoint that decide which secrets sign. */
export interface SealedSecrets {
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
}

/** True while the previous secret still signs (strictly before its expiry). */
export const previousSecretActive = (row: SealedSecrets, now: Date): boolean =>
  row.previousSecretSealed !== null &&
  row.previousSecretExpiresAt !== null &&
  row.previousSecretExpiresAt.getTime() > now.getTime();

/**
 * The secrets that sign a delivery at `now`, current first: the current one, and the previous one
 * while its grace period lasts (a delivery then carries both signatures). For the delivery engine.
 */
export function signingSecrets(row: SealedSecrets, open: (sealed: string) => string, now: Date): string[] {
  const current = open(row.secretSealed);
  return previousSecretActive(row, now) ? [current, open(row.previousSecretSealed!)] : [current];
}

/** Grace period of the previous secret after a rotation: hours, default and bounds. */
export const ROTATION_GRACE_HOURS = { default: 24, min: 1, max: 168 } as const;
