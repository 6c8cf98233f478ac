// R-API-2: a failed command must not be repeated unaltered. When the same account sends the same
// operation with the same parameters (canonical JSON of path, query and body) that failed with a
// client error within the window, the repeat is refused with 409 repeated_failed_command, without
// running. 5xx, 429, 401 and 403 are never remembered: retrying those is legitimate.
import fp from 'fastify-plugin';
import { appendPreValidation, isCommandRoute, syncFirstOnSend } from '../route-hooks.js';
import type { FastifyRequest } from 'fastify';
import { lt, sql } from 'drizzle-orm';
import { batched, preparedStatement } from '../db/client.js';
import { failedCommands } from '../db/schema/index.js';
import { defineError, problemResponses } from '../errors.js';
import { commandFingerprint } from './idempotency.js';
import { sweepExpiredRows } from '../db/sweep.js';

export const RepeatedFailedCommand = defineError('repeated_failed_command', 409, 'This exact command already failed; change it before sending it again');

const NOT_REMEMBERED = new Set([401, 403, 429]);
/** Refusals by the fair-use machinery itself are not failures of the command. */
const OWN_CODES = new Set(['repeated_failed_command', 'idempotency_key_in_use', 'idempotency_key_reused', 'rate_limited', 'too_many_concurrent_requests', 'bulk_notice_required', 'api_suspended']);

declare module 'fastify' {
  interface FastifyRequest {
    commandFingerprint: string | undefined;
  }
}

interface FailedCommand {
  failedAt: Date;
  expiresAt: Date;
  statusCode: number;
  errorCode: string | null;
  requestId: string;
}

export default fp<{ windowS: number }>(
  async function repeatedFailureGuard(app, opts) {
    app.decorateRequest('commandFingerprint', undefined);

    // The lookups of concurrent commands share one SELECT (each at its own time), so the guard
    // costs a fraction of a round trip per command under load and one round trip when idle.
    const select = preparedStatement<{ ord: number; failed_ms: number; expires_ms: number; status_code: number; error_code: string | null; request_id: string }>(
      'guard_lookup',
      sql`select k.ord, extract(epoch from f.failed_at)::float8 * 1000 as failed_ms, extract(epoch from f.expires_at)::float8 * 1000 as expires_ms, f.status_code, f.error_code, f.request_id
          from jsonb_to_recordset(${sql.placeholder('keys')}::jsonb) as k(ord integer, account_id uuid, fingerprint text, at timestamptz)
          join failed_commands f on f.account_id = k.account_id and f.fingerprint = k.fingerprint and f.expires_at > k.at`,
    );
    const lookup = batched<{ accountId: string; fingerprint: string; at: Date }, FailedCommand | undefined>(async (items) => {
      const keys = items.map((i, ord) => ({ ord, account_id: i.accountId, fingerprint: i.fingerprint, at: i.at.toISOString() }));
      const rows = await select(app.db, { keys: JSON.stringify(keys) });
      const found = new Map(
        rows.map((r) => [
          Number(r.ord),
          { failedAt: new Date(Math.round(Number(r.failed_ms))), expiresAt: new Date(Math.round(Number(r.expires_ms))), statusCode: Number(r.status_code), errorCode: r.error_code, requestId: r.request_id },
        ]),
      );
      return items.map((_, ord) => found.get(ord));
    });

    app.addHook('onRoute', (route) => {
      if (!isCommandRoute(route) || !route.schema) return;
      route.schema.response = { ...problemResponses(409), ...(route.schema.response as object) };
      const refuseRepeat = async (req: FastifyRequest, accountId: string, operation: string, fingerprint: string) => {
        const first = await lookup({ accountId, fingerprint, at: new Date() });
        if (first) {
          req.commandFingerprint = undefined;
          // R-API-4: one incident per remembered failure, however often it is repeated.
          await app.incidents.record({
            accountId,
            type: 'repeated_failed_command',
            dedupeKey: `${fingerprint}:${first.failedAt.getTime()}`,
            evidence: { operation, first_failure_request_id: first.requestId, first_failure_code: first.errorCode, repeat_request_id: req.id },
          });
          throw new RepeatedFailedCommand(
            `The same ${operation} failed at ${first.failedAt.toISOString()} with ${first.statusCode} ${first.errorCode ?? ''}; alter the command, or wait until ${first.expiresAt.toISOString()}`.replace(' ;', ';'),
            {
              extensions: {
                first_failure: { at: first.failedAt.toISOString(), status: first.statusCode, code: first.errorCode, request_id: first.requestId },
                retry_after: first.expiresAt.toISOString(),
              },
            },
          );
        }
      };
      appendPreValidation(route, (req) => {
        const accountId = req.principal?.accountId;
        const operation = req.routeOptions.schema?.operationId;
        if (!accountId || !operation || app.fairUsePolicy.guardExempt(operation)) return;
        const fingerprint = commandFingerprint(req.method, req.routeOptions.url ?? req.url, { params: req.params, query: req.query, body: req.body });
        req.commandFingerprint = fingerprint;
        return refuseRepeat(req, accountId, operation, fingerprint);
      });
    });

    app.addHook('onSend', syncFirstOnSend((req, reply, payload) => {
      const fingerprint = req.commandFingerprint;
      const status = reply.statusCode;
      if (!fingerprint || req.idempotentReplay || status < 400 || status >= 500 || NOT_REMEMBERED.has(status)) return;
      const code = typeof payload === 'string' ? (/"code":"([a-z0-9_]+)"/.exec(payload)?.[1] ?? null) : null;
      if (code && OWN_CODES.has(code)) return;
      const now = Date.now();
      return app.db
        .insert(failedCommands)
        .values({
          accountId: req.principal!.accountId!,
          fingerprint,
          operation: req.routeOptions.schema?.operationId ?? '',
          statusCode: status,
          errorCode: code,
          requestId: req.id,
          failedAt: new Date(now),
          expiresAt: new Date(now + opts.windowS * 1000),
        })
        .onConflictDoUpdate({
          target: [failedCommands.accountId, failedCommands.fingerprint],
          set: { statusCode: status, errorCode: code, requestId: req.id, failedAt: new Date(now), expiresAt: new Date(now + opts.windowS * 1000) },
          setWhere: sql`${failedCommands.expiresAt} <= now()`,
        });
    }));

    sweepExpiredRows(app, 'failed-commands', (now) => app.db.delete(failedCommands).where(lt(failedCommands.expiresAt, now)).returning({ id: failedCommands.accountId }));
  },
  { name: 'repeated-failure-guard', fastify: '5.x', dependencies: ['db', 'jobs', 'auth', 'incidents', 'rate-limit', 'idempotency'] },
);
