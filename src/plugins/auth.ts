// Authentication and authorisation for every route (R-SEC-1, R-SEC-4, R-SEC-5).
// Each operation's permission comes from the table in modules/accounts/operation-permissions.ts;
// this plugin documents the security it needs in the OpenAPI document and, per request: resolves
// the credential (cached hash lookup, never argon2), checks IP allowlists first, then expiry,
// revocation, account status and permission. A signed request proves itself first: its signature
// is verified over the raw body (kept by the json-body plugin) before anything about its key is
// checked, acted on or recorded, so a forged one learns nothing and changes nothing.
import { hash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import { addressAllowed } from '../lib/cidr.js';
import { parseHmacAuthorization, signatureMatches, type HmacAuthorization } from '../lib/request-signature.js';
import { API_KEY_PREFIX, SESSION_TOKEN_PREFIX } from '../lib/tokens.js';
import { declareErrors, ServiceUnavailable } from '../errors.js';
import { syncFirst } from '../route-hooks.js';
import {
  applyOperationPermission,
  assertHolds,
  createCredentialLookup,
  postgresNonceStore,
  type CredentialRecord,
  type Permission,
  type Principal,
  AccountSuspended,
  AccountTerminated,
  ApiSuspended,
  AuthenticationRequired,
  CredentialRevoked,
  InvalidCredentials,
  IpNotAllowed,
  NonceReused,
  PermissionDenied,
  SignatureExpired,
  SignatureInvalid,
  TokenExpired,
  TwoFactorEnrolmentRequired,
} from '../modules/accounts/api.js';

export type RoutePermission = Permission | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the caller must hold, or 'public'. Set from OPERATION_PERMISSIONS by operationId; routes do not name it. */
    permission?: RoutePermission;
    /** Reachable with an enrolment-only session (two-factor set-up under require_two_factor). */
    allowEnrolment?: boolean;
    /** Reachable while the fair-use ladder has suspended the account's API access (its standing). */
    allowDuringApiSuspension?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    credentialCache: { revoke(match: { userId?: string; credentialId?: string; accountId?: string }): void };
  }
}

export const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description: 'A login token (`rst_...`, from POST /v1/auth/login) or an API key (`rak_<key_id>_<secret>`).',
  },
  hmacSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: [
      'A signed request with an API key, so the secret never travels:',
      '`Authorization: HMAC-SHA256 Credential=<key_id>, Timestamp=<unix seconds>, Nonce=<16-128 chars of A-Za-z0-9_->, Signature=<hex>`.',
      '',
      'Signature = lowercase hex HMAC-SHA256, keyed with the key secret, of the canonical string: these seven lines joined by `\\n`:',
      '1. `HMAC-SHA256`',
      '2. the method in upper case',
      '3. the path exactly as sent, without the query (e.g. `/v1/account`)',
      '4. the query parameters, each name and value percent-encoded per RFC 3986, sorted by name then value, joined as `name=value` with `&` (empty line when none)',
      '5. lowercase hex SHA-256 of the exact body bytes (of the empty string when there is no body)',
      '6. the Timestamp value; it must be within 300 s of the server clock',
      '7. the Nonce value; a nonce is accepted once per key',
    ].join('\n'),
  },
} as const;

const TOUCH_INTERVAL_MS = 60_000;

/** A signed request between its header (onRequest) and its verification (once the body is read). */
interface PendingSignature {
  auth: HmacAuthorization;
  /** Null when no key has that id: verified against a stand-in secret, so it fails the same way. */
  record: CredentialRecord | null;
}

type CheckedPermission = Exclude<RoutePermission, 'public'>;

const STAND_IN_SECRET = 'no key has this id; the signature cannot match';
const NONCE_STORE_RETRY_S = 5;

// One-shot hash: about a third of createHash's cost for a short text (Node 20.12+).
const sha256 = (s: string) => hash('sha256', s, 'hex');

export interface AuthPluginOptions {
  cacheTtlMs: number;
  signatureMaxSkewS: number;
}

export default fp<AuthPluginOptions>(
  async function authPlugin(app, opts) {
    app.decorateRequest('principal', null);

    app.addHook('onRoute', (route) => {
      if (route.schema?.hide || route.url.startsWith('/docs')) return;
      // The permission comes from the operation table, which also documents it (scopes, x-permission).
      const permission = applyOperationPermission(route);
      if (permission !== 'public') {
        declareErrors(
          route,
          AuthenticationRequired,
          InvalidCredentials,
          SignatureExpired,
          SignatureInvalid,
          NonceReused,
          // The nonce store unreachable.
          ServiceUnavailable,
          IpNotAllowed,
          CredentialRevoked,
          TokenExpired,
          AccountSuspended,
          AccountTerminated,
          PermissionDenied,
          ...(route.config?.allowDuringApiSuspension ? [] : [ApiSuspended]),
          ...(route.config?.allowEnrolment ? [] : [TwoFactorEnrolmentRequired]),
        );
      }
    });

    const lookup = createCredentialLookup(app.db);
    // AUTH_CACHE_TTL_MS=0 turns the cache off (lru-cache reads a TTL of 0 as "never expires").
    const caching = opts.cacheTtlMs > 0;
    const cache = new LRUCache<string, CredentialRecord>({ max: 10_000, ttl: caching ? opts.cacheTtlMs : 1 });
    const nonces = postgresNonceStore(app.db);
    const lastTouch = new LRUCache<string, number>({ max: 50_000 });
    const pending = new WeakMap<FastifyRequest, PendingSignature>();

    app.decorate('credentialCache', {
      revoke(match: { userId?: string; credentialId?: string; accountId?: string }) {
        // Ids as a client sent them (a path parameter) may be upper case; the stored ones are not.
        const userId = match.userId?.toLowerCase();
        const credentialId = match.credentialId?.toLowerCase();
        const accountId = match.accountId?.toLowerCase();
        const doomed: string[] = [];
        for (const [key, r] of cache.entries())
          if (
            (userId !== undefined && r.principal.userId === userId) ||
            (credentialId !== undefined && r.principal.credential.id === credentialId) ||
            (accountId !== undefined && r.principal.accountId === accountId)
          )
            doomed.push(key);
        for (const key of doomed) cache.delete(key);
      },
    });

    /** The cached record at once, or the lookup's promise (cached once it answers). */
    function resolve(
      cacheKey: string,
      load: () => Promise<CredentialRecord | null>,
    ): CredentialRecord | Promise<CredentialRecord | null> {
      const hit = cache.get(cacheKey);
      if (hit) return hit;
      return load().then((record) => {
        if (record && caching) cache.set(cacheKey, record);
        return record;
      });
    }

    function touch(record: CredentialRecord, address: string, log: FastifyRequest['log']) {
      const { type, id } = record.principal.credential;
      const now = Date.now();
      if (now - (lastTouch.get(id) ?? 0) < TOUCH_INTERVAL_MS) return;
      lastTouch.set(id, now);
      lookup.touch(type, id, address).catch((err: unknown) => log.warn({ err }, 'could not record credential use'));
    }

    /** The caller is who the credential says: from here on the request acts as it. */
    function accept(req: FastifyRequest, record: CredentialRecord): void {
      req.principal = record.principal;
      touch(record, req.ip, req.log);
    }

    /** The permission a route needs from its caller; none for public and unknown routes. */
    function routePermission(req: FastifyRequest): CheckedPermission | null {
      const permission = req.routeOptions.config?.permission;
      return !permission || permission === 'public' ? null : permission;
    }

    // Synchronous on a cache hit (the usual case); only a lookup is awaited.
    app.addHook(
      'onRequest',
      syncFirst((req: FastifyRequest, reply: FastifyReply) => {
        const permission = routePermission(req);
        // Unknown routes (no config) answer 404 without asking who is calling.
        if (!permission) return;

        const header = req.headers.authorization;
        if (!header) {
          reply.header('www-authenticate', 'Bearer, HMAC-SHA256');
          throw new AuthenticationRequired(
            'Send Authorization: Bearer <token or API key>, or a signed HMAC-SHA256 request',
          );
        }

        // The scheme's name is case-insensitive (RFC 9110 11.1): `bearer` is Bearer.
        if (header.startsWith('Bearer ') || header.slice(0, 7).toLowerCase() === 'bearer ') {
          const token = header.slice(7).trim();
          let record: CredentialRecord | null | Promise<CredentialRecord | null>;
          if (token.startsWith(SESSION_TOKEN_PREFIX))
            record = resolve(`s:${sha256(token)}`, () => lookup.session(sha256(token)));
          else if (token.startsWith(API_KEY_PREFIX))
            record = resolve(`k:${sha256(token)}`, () => lookup.apiKeyByHash(sha256(token)));
          else record = null;
          if (record instanceof Promise) return record.then((r) => accept(req, admit(req, permission, r)));
          accept(req, admit(req, permission, record));
          return;
        }

        // A signed request: nothing about its key is checked until its signature is (preValidation).
        const auth = parseHmacAuthorization(header);
        if (!auth) throw new InvalidCredentials('Malformed Authorization header');
        const skew = Math.abs(Date.now() / 1000 - Number(auth.timestamp));
        if (skew > opts.signatureMaxSkewS) {
          throw new SignatureExpired(
            `Timestamp is ${Math.round(skew)} s from the server clock; at most ${opts.signatureMaxSkewS} s is allowed`,
          );
        }
        const record = resolve(`h:${auth.credential}`, () => lookup.apiKeyById(auth.credential));
        if (record instanceof Promise) return record.then((r) => void pending.set(req, { auth, record: r }));
        pending.set(req, { auth, record });
      }),
    );

    /** The checks on a known credential, in order; its record when they all pass. */
    function admit(
      req: FastifyRequest,
      permission: CheckedPermission,
      record: CredentialRecord | null,
    ): CredentialRecord {
      const config = req.routeOptions.config;
      if (!record) throw new InvalidCredentials();

      // R-SEC-4: the address check comes before anything else about the caller.
      if (!record.allowlists.every((list) => addressAllowed(req.ip, list))) {
        throw new IpNotAllowed(`${req.ip} is not on the allowlist for this credential`);
      }
      if (record.revoked) throw new CredentialRevoked();
      if (record.expiresAt !== null && record.expiresAt <= Date.now()) throw new TokenExpired();
      if (!record.userActive) throw new InvalidCredentials('The user is disabled');
      if (record.accountStatus === 'suspended') throw new AccountSuspended();
      if (record.accountStatus === 'terminated') throw new AccountTerminated();
      if (
        record.apiSuspendedUntil !== null &&
        record.apiSuspendedUntil > Date.now() &&
        !config.allowDuringApiSuspension
      ) {
        const endsAt = new Date(record.apiSuspendedUntil).toISOString();
        throw new ApiSuspended(`API access is suspended until ${endsAt} (R-API-4); GET /v1/fair-use shows why`, {
          extensions: { ends_at: endsAt },
          headers: { 'retry-after': String(Math.ceil((record.apiSuspendedUntil - Date.now()) / 1000)) },
        });
      }
      const principal = record.principal;
      if (principal.enrolmentOnly && !config.allowEnrolment) {
        throw new TwoFactorEnrolmentRequired(
          'This token may only enrol two-factor authentication (POST /v1/users/{id}/two-factor)',
        );
      }
      assertHolds(principal, permission);
      return record;
    }

    // After the body is read, before it is validated or acted on: the signature first (a forged
    // request answers the same 401 whatever its key's scopes, allowlist or account), then the
    // checks every credential passes, then the nonce, and only then does the request act as the key.
    app.addHook(
      'preValidation',
      syncFirst((req) => {
        const sig = pending.get(req);
        if (!sig) return;
        pending.delete(req);
        const { auth, record } = sig;
        const [path, query = ''] = req.url.split('?', 2) as [string, string?];
        const secret = record?.secretSealed ? app.secretBox.open(record.secretSealed) : STAND_IN_SECRET;
        const matches = signatureMatches(
          secret,
          { method: req.method, path, query, body: req.rawBody ?? '', timestamp: auth.timestamp, nonce: auth.nonce },
          auth.signature,
        );
        if (!matches || !record?.secretSealed) {
          throw new SignatureInvalid(
            'The signature does not match the canonical string (see the hmacSignature security scheme)',
          );
        }
        const verified = admit(req, routePermission(req)!, record);
        // PostgreSQL alone decides whether a nonce is fresh (a unique key), so no outage of anything
        // else can accept one twice. Nonces outlive the skew window twice over, so a replay is
        // refused by one check or the other; the sweep-used-nonces job deletes them after that.
        return nonces.claim(auth.credential, auth.nonce, opts.signatureMaxSkewS * 2).then(
          (fresh) => {
            if (!fresh) throw new NonceReused();
            accept(req, verified);
          },
          (err: unknown) => {
            req.log.error({ err }, 'nonce store failed; refusing the signed request');
            throw new ServiceUnavailable('Signed requests cannot be checked for replay right now; retry shortly', {
              headers: { 'retry-after': String(NONCE_STORE_RETRY_S) },
            });
          },
        );
      }),
    );
  },
  { name: 'auth', fastify: '5.x', dependencies: ['db', 'secrets'] },
);
