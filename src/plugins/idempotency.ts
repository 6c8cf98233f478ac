// Idempotency-Key on state-changing POSTs (API.md, Stripe's design). The first response to a key is
// stored for 24 h and replayed with `Idempotent-Replayed: true`; the same key with a different
// request is 422 idempotency_key_reused; while the first is running, 409 idempotency_key_in_use.
// A key belongs to the credential that sent it (R-SEC-8): a login session's keys are its user's (one
// person's sessions share them), an API key's are that key's. Nobody else's replay reaches them.
//
// The guarantee: the stored outcome commits in the same transaction as the change it answers for.
// A request that claimed a key runs its handler in one request transaction (db/client.ts), and the
// response is written to the key's row and committed before it leaves. So a fault anywhere leaves
// either both (a retry replays the original answer) or neither (the retry runs once); a 5xx rolls
// back and releases the key. Every POST command route gets this, whatever its module.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isCommandRoute } from '../modules/fair-use/api.js';
import { appendPreValidation, syncFirstOnSend } from '../route-hooks.js';
import { and, eq, lt, sql } from 'drizzle-orm';
import { idempotencyKeys } from '../db/schema/index.js';
import { declareErrors, defineError, ServiceUnavailable, ValidationFailed } from '../errors.js';
import { commandFingerprint } from '../lib/command-fingerprint.js';
import { sweepExpiredRows } from '../db/sweep.js';
import { beginRequestTransaction, type RequestTransaction } from '../db/client.js';
import type { Principal } from '../modules/accounts/api.js';
import { problemCodeOf } from './problem-json.js';
import { FAIR_USE_REFUSALS } from './repeated-failure-guard.js';

export const IdempotencyKeyInUse = defineError(
  'idempotency_key_in_use',
  409,
  'A request with this Idempotency-Key is still running',
);
export const IdempotencyKeyReused = defineError(
  'idempotency_key_reused',
  422,
  'This Idempotency-Key was used for a different request',
);

const HEADER = 'idempotency-key';
const POST_ONLY = new Set(['POST']);
const KEY_SHAPE = /^[\x21-\x7E]{1,255}$/;
const TTL_MS = 24 * 3_600_000;
/** An in-flight record older than this belongs to a request that died with its process. */
const ABANDONED_MS = 5 * 60_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when this request answers from a stored response: nothing ran. */
    idempotentReplay: boolean;
    /**
     * Runs `fn` in this request's transaction when it has one still open (a command with an
     * Idempotency-Key, before its outcome is recorded), else as is. A hook that reads the database
     * between the handler and onSend uses it: on embedded PGlite the open transaction holds the one
     * connection, and a query from outside it would wait for it forever.
     */
    inRequestTransaction<T>(fn: () => Promise<T>): Promise<T>;
    /**
     * A later onSend hook changed the answer (the R-API-2 guard's notice on a remembered failure):
     * the key's stored answer becomes `payload`, so a replay returns what the first call got.
     * Nothing when this request stored no answer under a key.
     */
    amendIdempotentAnswer(payload: unknown): Promise<void>;
  }
}

/** Whose keys: the API key's own, or the user's for a login session (R-SEC-8). */
export const idempotencyScope = (p: Principal): string =>
  p.credential.type === 'api_key' ? `api_key:${p.credential.id}` : `user:${p.userId}`;

interface Claim {
  scope: string;
  key: string;
  /** Open from just before the handler until the outcome is recorded. */
  transaction?: RequestTransaction;
}

export default fp(
  async function idempotencyPlugin(app) {
    app.decorateRequest('idempotentReplay', false);
    const owned = new WeakMap<object, Claim>();
    /** Requests whose answer is stored under a key, for amendIdempotentAnswer. */
    const answered = new WeakMap<object, { scope: string; key: string }>();
    app.decorateRequest('amendIdempotentAnswer', async function (this: FastifyRequest, payload: unknown) {
      const mine = answered.get(this);
      if (!mine || typeof payload !== 'string' || payload === '') return;
      await app.db
        .update(idempotencyKeys)
        .set({ responseBody: app.secretBox.seal(payload) })
        .where(
          and(
            eq(idempotencyKeys.scope, mine.scope),
            eq(idempotencyKeys.key, mine.key),
            eq(idempotencyKeys.requestId, this.id),
            eq(idempotencyKeys.state, 'done'),
          ),
        );
    });
    app.decorateRequest('inRequestTransaction', function <T>(this: FastifyRequest, fn: () => Promise<T>): Promise<T> {
      const transaction = owned.get(this)?.transaction;
      return transaction ? transaction.enter(fn) : fn();
    });

    app.addHook('onRoute', (route) => {
      if (!isCommandRoute(route, POST_ONLY) || !route.schema) return;
      route.schema.headers ??= {
        type: 'object',
        properties: {
          [HEADER]: {
            type: 'string',
            minLength: 1,
            maxLength: 255,
            description: 'Makes a retry safe: the first response to this key is replayed for 24 h',
          },
        },
      };
      declareErrors(route, IdempotencyKeyInUse, IdempotencyKeyReused, ValidationFailed, ServiceUnavailable);
      const claim = async (req: FastifyRequest, reply: FastifyReply, key: string, scope: string) => {
        if (!KEY_SHAPE.test(key)) {
          throw new ValidationFailed('Idempotency-Key must be 1-255 visible ASCII characters', {
            errors: [
              {
                pointer: '/headers/idempotency-key',
                code: 'invalid_format',
                message: 'must be 1-255 visible ASCII characters',
              },
            ],
          });
        }
        const fingerprint = commandFingerprint(req.method, req.routeOptions.url ?? req.url, {
          params: req.params,
          query: req.query,
          body: req.body,
        });
        const now = new Date();
        const claimed = await app.db
          .insert(idempotencyKeys)
          .values({
            scope,
            key,
            fingerprint,
            operation: req.routeOptions.schema?.operationId ?? '',
            state: 'in_flight',
            requestId: req.id,
            expiresAt: new Date(now.getTime() + TTL_MS),
          })
          .onConflictDoUpdate({
            target: [idempotencyKeys.scope, idempotencyKeys.key],
            set: {
              fingerprint,
              state: 'in_flight',
              requestId: req.id,
              createdAt: now,
              expiresAt: new Date(now.getTime() + TTL_MS),
              responseStatus: null,
              responseBody: null,
              responseType: null,
            },
            // Take over only a record that expired, or an in-flight one whose request died.
            setWhere: sql`${idempotencyKeys.expiresAt} < now() or (${idempotencyKeys.state} = 'in_flight' and ${idempotencyKeys.createdAt} < ${new Date(now.getTime() - ABANDONED_MS)})`,
          })
          .returning({ key: idempotencyKeys.key });
        if (claimed.length === 1) {
          owned.set(req, { scope, key });
          return;
        }
        const [existing] = await app.db
          .select()
          .from(idempotencyKeys)
          .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
        if (!existing) throw new IdempotencyKeyInUse('The key changed hands while we looked; retry');
        if (existing.fingerprint !== fingerprint) {
          throw new IdempotencyKeyReused(
            `This key was first used for another request (${existing.operation}, request ${existing.requestId})`,
          );
        }
        if (existing.state !== 'done')
          throw new IdempotencyKeyInUse(`Request ${existing.requestId} with this key is still running; retry shortly`, {
            headers: { 'retry-after': '1' },
          });
        req.idempotentReplay = true;
        return reply
          .code(existing.responseStatus ?? 200)
          .header('idempotent-replayed', 'true')
          .type(existing.responseType ?? 'application/json')
          .send(existing.responseBody ? app.secretBox.open(existing.responseBody) : '');
      };
      // Route-level, so it runs after authentication and the rate limit and before the guard.
      appendPreValidation(route, (req, reply) => {
        const key = req.headers[HEADER];
        const p = req.principal;
        if (typeof key !== 'string' || !p) return;
        return claim(req, reply, key, idempotencyScope(p));
      });
      // After every hook, just before the handler: a claimed request runs in its request transaction.
      // Other requests pay one WeakMap lookup.
      const handler = route.handler;
      route.handler = function runClaimed(this: unknown, req, reply) {
        const mine = owned.get(req);
        if (mine === undefined) return handler.call(this as never, req, reply);
        return beginRequestTransaction(app.db).then(
          (transaction) =>
            new Promise((resolve, reject) => {
              mine.transaction = transaction;
              transaction.enter(() => {
                try {
                  Promise.resolve(handler.call(this as never, req, reply)).then(resolve, reject);
                } catch (err) {
                  reject(err);
                }
              });
            }),
        );
      };
    });

    // First of the onSend hooks that write (registered before the guard and the audit): those run
    // after the commit, outside the request transaction.
    app.addHook(
      'onSend',
      syncFirstOnSend((req, reply, payload) => {
        const mine = owned.get(req);
        if (!mine) return;
        owned.delete(req);
        const ours = and(
          eq(idempotencyKeys.scope, mine.scope),
          eq(idempotencyKeys.key, mine.key),
          eq(idempotencyKeys.requestId, req.id),
        );
        // Only while in flight: a key whose outcome committed is never released.
        const release = () => app.db.delete(idempotencyKeys).where(and(ours, eq(idempotencyKeys.state, 'in_flight')));
        const t = mine.transaction;
        // A 5xx, or a refusal of the fair-use machinery (the command did not run: a repeat, a rate
        // or bulk limit): nothing to keep, and the same key runs the command once it may.
        const code = reply.statusCode >= 400 ? problemCodeOf(payload) : null;
        if (reply.statusCode >= 500 || (code !== null && FAIR_USE_REFUSALS.has(code))) {
          return (t ? t.rollback() : Promise.resolve())
            .catch((err: unknown) =>
              req.log.warn(
                { err },
                'request transaction rollback failed (the connection is gone, and the transaction with it)',
              ),
            )
            .then(release)
            .catch((err: unknown) =>
              req.log.error(
                { err },
                'could not release the idempotency key; a retry may wait until it is taken as abandoned',
              ),
            );
        }
        const outcome = {
          state: 'done',
          responseStatus: reply.statusCode,
          // Responses can hold secrets shown once (a new API key): sealed like every secret at rest.
          responseBody: typeof payload === 'string' && payload !== '' ? app.secretBox.seal(payload) : null,
          responseType: String(reply.getHeader('content-type') ?? 'application/json'),
        };
        answered.set(req, { scope: mine.scope, key: mine.key });
        // Refused before its handler (validation, the guard): nothing to commit with it.
        if (!t) return app.db.update(idempotencyKeys).set(outcome).where(ours);
        return t
          .commit(async (tx) => {
            const marked = await tx
              .update(idempotencyKeys)
              .set(outcome)
              .where(ours)
              .returning({ key: idempotencyKeys.key });
            if (marked.length !== 1)
              throw new Error('the idempotency key was taken over as abandoned while its request ran');
          })
          .catch(async (err: unknown) => {
            req.log.error({ err }, 'request transaction failed to commit');
            // When the commit did go through, the key is done and this changes nothing.
            await release().catch(() => {});
            throw new ServiceUnavailable(
              'The command could not be committed. Retry with the same Idempotency-Key: it runs once, or answers what was done',
              {
                headers: { 'retry-after': '1' },
              },
            );
          });
      }),
    );

    sweepExpiredRows(app, 'idempotency-keys', (now) =>
      app.db.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, now)).returning({ key: idempotencyKeys.key }),
    );
  },
  { name: 'idempotency', fastify: '5.x', dependencies: ['db', 'jobs', 'secrets', 'auth', 'rate-limit'] },
);
