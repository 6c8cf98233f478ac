// Builders for the accounts area, all through the real HTTP API except the very first operator.
import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import type { App } from '../../src/app.js';
import { signRequest } from '../../src/lib/request-signature.js';
import { createOperator } from '../../src/modules/accounts/service.js';

export const STRONG_PASSWORD = 'violet-Harbour-lantern-58!quay';
export const OTHER_STRONG_PASSWORD = 'copper-Meadow-thistle-27#brook';

let seq = 0;
const unique = (p: string) => `${p}${process.pid}x${++seq}`;

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function loginAs(
  app: App,
  username: string,
  password = STRONG_PASSWORD,
  extra: Record<string, string> = {},
) {
  const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username, password, ...extra } });
  if (res.statusCode !== 200) throw new Error(`login ${username} failed: ${res.statusCode} ${res.body}`);
  return res.json<{ token: string; session_id: string; user: { id: string; account_id: string | null } }>();
}

export async function operator(app: App) {
  const username = unique('op');
  await createOperator(app.db, { username, email: `${username}@ops.test`, name: 'Op', password: STRONG_PASSWORD });
  const { token, user } = await loginAs(app, username);
  return { username, token, userId: user.id };
}

export interface Reseller {
  accountId: string;
  ownerId: string;
  ownerUsername: string;
  token: string;
  /** The account's contact address: one per account (an address names one account, R-TKT-10). */
  contactEmail: string;
}

export async function reseller(
  app: App,
  opToken: string,
  opts: { currency?: string; creditLimit?: number } = {},
): Promise<Reseller> {
  const ownerUsername = unique('owner');
  const contactEmail = `billing-${ownerUsername}@hosting.test`;
  const res = await app.inject({
    method: 'POST',
    url: '/v1/admin/accounts',
    headers: bearer(opToken),
    payload: {
      name: unique('Reseller '),
      company_name: 'Hosting GmbH',
      contact_email: contactEmail,
      contact_phone: '+49.3012345678',
      country: 'DE',
      address: 'Hauptstr. 1, 10115 Berlin',
      currency: opts.currency ?? 'EUR',
      credit_limit: opts.creditLimit ?? 0,
      owner: {
        username: ownerUsername,
        email: `${ownerUsername}@hosting.test`,
        name: 'Owner',
        password: STRONG_PASSWORD,
      },
    },
  });
  if (res.statusCode !== 201) throw new Error(`create account failed: ${res.statusCode} ${res.body}`);
  const body = res.json();
  const { token } = await loginAs(app, ownerUsername);
  return { accountId: body.account.id, ownerId: body.owner.id, ownerUsername, token, contactEmail };
}

export async function addUser(app: App, token: string, role: string, extra: Record<string, unknown> = {}) {
  const username = unique(role);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/users',
    headers: bearer(token),
    payload: { username, email: `${username}@hosting.test`, name: role, role, password: STRONG_PASSWORD, ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`create user failed: ${res.statusCode} ${res.body}`);
  return { id: res.json().id as string, username };
}

export async function apiKey(app: App, token: string, scopes: string[], extra: Record<string, unknown> = {}) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: bearer(token),
    payload: { name: 'ci', scopes, ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`create key failed: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return {
    id: body.api_key.id as string,
    keyId: body.api_key.key_id as string,
    key: body.key as string,
    secret: body.secret as string,
  };
}

/** Headers of a correctly signed request (what a client library would send). */
export function signed(
  key: { keyId: string; secret: string },
  method: string,
  url: string,
  body = '',
  opts: { timestamp?: number; nonce?: string } = {},
) {
  const [path, query = ''] = url.split('?', 2) as [string, string?];
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? randomBytes(16).toString('base64url');
  const signature = signRequest(key.secret, { method, path, query, body, timestamp, nonce });
  return {
    authorization: `HMAC-SHA256 Credential=${key.keyId}, Timestamp=${timestamp}, Nonce=${nonce}, Signature=${signature}`,
    ...(body ? { 'content-type': 'application/json' } : {}),
  };
}

/** The TOTP code for a base32 secret at a given time (default now). */
export function totp(secret: string, timestamp = Date.now()): string {
  return new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secret),
    digits: 6,
    period: 30,
    algorithm: 'SHA1',
  }).generate({ timestamp });
}
