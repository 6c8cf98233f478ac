// R-API-2: a failed command must not be repeated unaltered. When the same credential sends the same
// operation with the same parameters (canonical JSON of path, query and body, identifiers in their
// normalised form) that failed with a client error within the window, the repeat is refused with 409
// repeated_failed_command, without running. 5xx, 429, 401 and 403 are never remembered: retrying
// those is legitimate.
//
// A command stays "unaltered" only while what its failure depended on is unchanged. Each remembered
// failure keeps the objects the command named (its subjects: 'domains:example.com',
// 'contacts:RA-…', 'balance' for a 402); a successful command on one of those subjects, by anyone
// in the account, forgets the failures that named it, so "unlock, then delete again" works.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { lt, sql, type SQL } from 'drizzle-orm';
import { isCommandRoute } from '../modules/fair-use/api.js';
import { appendPreValidation } from '../route-hooks.js';
import { batched, preparedStatement, type Tx } from '../db/client.js';
import { failedCommands } from '../db/schema/index.js';
import { Type } from 'typebox';
import { declareErrors, defineError } from '../errors.js';
import { commandFingerprint, type CommandParts } from '../lib/command-fingerprint.js';
import { toAscii } from '../lib/domain-name.js';
import { sweepExpiredRows } from '../db/sweep.js';
import { problemCodeOf } from './problem-json.js';

export const RepeatedFailedCommand = defineError(
  'repeated_failed_command',
  409,
  'This exact command already failed; change it before sending it again',
  Type.Object({
    first_failure: Type.Object({
      at: Type.String({ format: 'date-time' }),
      status: Type.Integer({ minimum: 400, maximum: 599 }),
      code: Type.Union([Type.String(), Type.Null()]),
      request_id: Type.String(),
      depends_on: Type.Array(Type.String(), { description: 'Subjects whose change lets the command run again' }),
    }),
    retry_after: Type.String({ format: 'date-time', description: 'When the command may be sent unchanged' }),
  }),
);

const NOT_REMEMBERED = new Set([401, 403, 429]);
/**
 * Refusals by the fair-use machinery itself: the command did not run, so they are not its failures.
 * Neither remembered here nor kept as an Idempotency-Key's answer (the same key runs it later).
 */
export const FAIR_USE_REFUSALS: ReadonlySet<string> = new Set([
  'repeated_failed_command',
  'rate_limited',
  'too_many_concurrent_requests',
  'bulk_notice_required',
  'api_suspended',
]);
/**
 * Not failures of the command either: its own key's state, or a state of the subject that ends by
 * itself (a delivery attempt under way), which the answer tells the caller to wait out.
 */
const OWN_CODES = new Set([
  ...FAIR_USE_REFUSALS,
  'idempotency_key_in_use',
  'idempotency_key_reused',
  'delivery_in_flight',
  'approval_mail_too_soon',
  // The registry's data on the domain's owner, which the owner corrects at its registrar.
  'owner_email_unknown',
]);
/** 402 Payment Required: the failure depended on the account's funds, so a credit changes it. */
const FUNDS_STATUS = 402;
const BALANCE = 'balance';
/** A command naming more objects than this (a long list in its body) keeps the first ones. */
const MAX_SUBJECTS = 64;

/**
 * An object a command names, for R-API-2. Each path parameter is one already (`/v1/domains/:name`
 * names `domains:<name>`: the collection before the parameter); routes list the others here.
 */
export interface GuardSubject {
  /** The collection the identifier belongs to ('domains', 'contacts', 'hosts'), or 'balance'. */
  kind: string;
  /** Where the identifier is: '/body/name', '/body/contacts/*' ('*': every item). None for 'balance': the account's own. */
  at?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** R-API-2: objects this command names besides its path parameters (see GuardSubject). */
    guardSubjects?: GuardSubject[];
    /** R-API-2, operator routes that act on one account ('/params/id'): their successes count for that account's subjects. */
    guardAccount?: string;
    /**
     * R-API-2 carried by the command's own statement (a hot path): the guard does not look the
     * command up before the handler; the handler hands `req.deferredGuard()` to its store, whose
     * statement checks for a remembered failure (guardChecks) before it writes anything, and
     * settles the answer before acting on it. A request that fails before its statement answered
     * is looked up in onError, so a repeat is still refused with repeated_failed_command.
     */
    guardInStatement?: boolean;
  }
  interface FastifyRequest {
    /** The R-API-2 lookup this request's statement must carry (guardInStatement routes), or null. */
    deferredGuard(): DeferredGuard | null;
  }
}

/** How identifiers of a kind are compared: the same object must never have two fingerprints. */
const normaliseDomainName = (name: string): string => {
  // As the domain services read a name: trimmed, lower case, no trailing dot, A-labels.
  const lower = name.trim().toLowerCase().replace(/\.$/, '');
  return toAscii(lower) || lower;
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Kinds whose identifiers the server treats case-insensitively; others are compared as sent (contact handles are case-sensitive). */
const NORMALISERS: Record<string, (value: string) => string> = {
  domains: normaliseDomainName,
  hosts: normaliseDomainName,
};
const normaliserOf = (kind: string) => NORMALISERS[kind] ?? ((v: string) => (UUID.test(v) ? v.toLowerCase() : v));

interface CompiledSubject {
  kind: string;
  /** ['params', 'name'], ['body', 'contacts', '*']; empty for the account's balance. */
  path: string[];
  normalise: (value: string) => string;
}

/** Path parameters first (each names an object of the collection before it), then the route's own list. */
export function compileSubjects(url: string, extra: readonly GuardSubject[] = []): CompiledSubject[] {
  const segments = url.split('/');
  const fromParams = segments.flatMap((segment, i) => {
    const m = /^:([A-Za-z0-9_]+)$/.exec(segment);
    const kind = segments[i - 1];
    return m && kind && !kind.startsWith(':') ? [{ kind, at: `/params/${m[1]}` }] : [];
  });
  return [...fromParams, ...extra].map((s) => ({
    kind: s.kind,
    path: s.at ? s.at.split('/').filter(Boolean) : [],
    normalise: normaliserOf(s.kind),
  }));
}

/**
 * `value` with the strings at `path` normalised (copied only along the path), pushing each one
 * found into `found`. Walks only the declared path, so a deeply nested body costs nothing here.
 */
function normaliseAt(
  value: unknown,
  path: readonly string[],
  i: number,
  normalise: (v: string) => string,
  found: string[],
): unknown {
  if (i === path.length) {
    if (typeof value !== 'string') return value;
    const n = normalise(value);
    found.push(n);
    return n;
  }
  if (value === null || typeof value !== 'object') return value;
  const segment = path[i]!;
  if (segment === '*') {
    if (Array.isArray(value)) return value.map((v) => normaliseAt(v, path, i + 1, normalise, found));
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, normaliseAt(v, path, i + 1, normalise, found)]),
    );
  }
  if (Array.isArray(value) || !Object.hasOwn(value, segment)) return value;
  const inner = (value as Record<string, unknown>)[segment];
  const next = normaliseAt(inner, path, i + 1, normalise, found);
  return next === inner ? value : { ...(value as Record<string, unknown>), [segment]: next };
}

export interface CommandIdentity {
  fingerprint: string;
  subjects: string[];
}

/** The fingerprint of a command, over its identifiers in normalised form, and the subjects it names. */
export function identifyCommand(
  method: string,
  route: string,
  parts: CommandParts,
  subjects: readonly CompiledSubject[],
): CommandIdentity {
  const request: Record<string, unknown> = {
    params: parts.params ?? {},
    query: parts.query ?? {},
    body: parts.body ?? null,
  };
  const named = new Set<string>();
  for (const s of subjects) {
    if (s.path.length === 0) {
      named.add(s.kind);
      continue;
    }
    const found: string[] = [];
    const [part, ...rest] = s.path;
    if (part && part in request) request[part] = normaliseAt(request[part], rest, 0, s.normalise, found);
    for (const value of found) named.add(`${s.kind}:${value}`);
  }
  const fingerprint = commandFingerprint(method, route, request);
  return { fingerprint, subjects: [...named].slice(0, MAX_SUBJECTS) };
}

/** Whose failures these are: the API key, or the person behind a login session (a new login does not dodge the guard). */
const credentialKey = (req: FastifyRequest): string | undefined => {
  const p = req.principal;
  if (!p) return undefined;
  return p.credential.type === 'api_key' ? `key:${p.credential.id}` : `user:${p.userId}`;
};

interface FailedCommand {
  failedAt: Date;
  expiresAt: Date;
  statusCode: number;
  errorCode: string | null;
  requestId: string;
  /** What it depended on: a successful change to one of these makes the command new. */
  subjects: string[];
}

interface GuardState {
  identity: CommandIdentity;
  /** Set when the command is guarded (a reseller's, not exempt): a failure is remembered for this credential. */
  credential: string | undefined;
  accountId: string;
  /** What the lookup found: does the account have remembered failures on this command's subjects? Unknown when no lookup ran. */
  failuresOnSubjects: boolean | undefined;
  /** The lookup is the route's statement's to make (guardInStatement), and has not been answered yet. */
  deferred: boolean;
}

/** The key of an R-API-2 lookup, as a statement's input row carries it (see guardProbeColumns). */
export interface GuardProbe {
  guard_credential: string;
  guard_account: string;
  guard_fingerprint: string;
  guard_subjects: string[];
  guard_at: string;
}

/** The columns of a GuardProbe in a statement's jsonb_to_recordset column list. */
export const guardProbeColumns = sql.raw(
  'guard_credential text, guard_account uuid, guard_fingerprint text, guard_subjects text[], guard_at timestamptz',
);

/** The input row's fields when no lookup is carried: the checks then find nothing. */
export const NO_GUARD_PROBE: Record<keyof GuardProbe, null> = {
  guard_credential: null,
  guard_account: null,
  guard_fingerprint: null,
  guard_subjects: null,
  guard_at: null,
};

/** What guardChecks answers per input row. */
export interface GuardCheckRow extends Record<string, unknown> {
  guard_failed_ms: number | null;
  guard_expires_ms: number | null;
  guard_status_code: number | null;
  guard_error_code: string | null;
  guard_request_id: string | null;
  guard_depends_on: string[] | null;
  guard_on_subjects: boolean | null;
}

/**
 * R-API-2's lookup as a query over `source` (a relation with an `ord` column and the
 * guardProbeColumns): per row, this credential's unexpired remembered failure of the command, if
 * any, and whether the account has unexpired failures naming one of its subjects (so that a success
 * forgets them only when there is something to forget). A row without a probe finds nothing. The
 * guard's own batched lookup is this query; a guardInStatement route's statement writes nothing for
 * a row whose guard_failed_ms is not null.
 */
export function guardChecks(source: string): SQL {
  const q = sql.raw(source);
  return sql`select ${q}.ord, f.failed_ms as guard_failed_ms, f.expires_ms as guard_expires_ms, f.status_code as guard_status_code,
        f.error_code as guard_error_code, f.request_id as guard_request_id, f.subjects as guard_depends_on,
        (cardinality(${q}.guard_subjects) > 0 and exists (
          select 1 from failed_commands other
          where other.account_id = ${q}.guard_account and other.subjects && ${q}.guard_subjects and other.expires_at > ${q}.guard_at
        )) as guard_on_subjects
      from ${q} left join lateral (
        select extract(epoch from c.failed_at)::float8 * 1000 as failed_ms, extract(epoch from c.expires_at)::float8 * 1000 as expires_ms,
               c.status_code, c.error_code, c.request_id, c.subjects
        from failed_commands c
        where c.credential = ${q}.guard_credential and c.fingerprint = ${q}.guard_fingerprint and c.expires_at > ${q}.guard_at
      ) f on true`;
}

/** What the lookup found. */
export interface GuardFound {
  first: FailedCommand | undefined;
  onSubjects: boolean;
}

/** What the lookup found, from a guardChecks row (none: nothing found). */
export function guardFound(r: GuardCheckRow | undefined): GuardFound {
  const first =
    r && r.guard_failed_ms !== null
      ? {
          failedAt: new Date(Math.round(Number(r.guard_failed_ms))),
          expiresAt: new Date(Math.round(Number(r.guard_expires_ms))),
          statusCode: Number(r.guard_status_code),
          errorCode: r.guard_error_code,
          requestId: r.guard_request_id ?? '',
          subjects: r.guard_depends_on ?? [],
        }
      : undefined;
  return { first, onSubjects: r?.guard_on_subjects === true };
}

/**
 * A guardInStatement request's lookup: the probe goes in the statement's input row, and the
 * statement's guardChecks row goes to settle() before the handler acts on anything it read. settle
 * throws repeated_failed_command when the command is a repeat.
 */
export interface DeferredGuard {
  probe: GuardProbe;
  settle(row: GuardCheckRow | undefined): Promise<void>;
  /** The lookup on its own (a path of the route whose statement does not carry it), settled. */
  lookup(): Promise<void>;
}

/** A CTE that forgets the remembered failures naming any of `subjects`: rows of (account_id, subject). */
function forgetFailuresCte(name: string, subjects: SQL, operations?: readonly string[]): SQL {
  // Operation ids are the code's own constants ([A-Za-z]+): written into the statement as they are.
  if (operations?.some((o) => !/^[A-Za-z]+$/.test(o))) throw new Error(`not an operation id: ${operations.join()}`);
  const only = operations ? sql.raw(` and f.operation in (${operations.map((o) => `'${o}'`).join(', ')})`) : sql``;
  return sql`${sql.raw(name)} as (delete from failed_commands f using ${subjects} where f.account_id = named.account_id and named.subject = any(f.subjects)${only})`;
}

/**
 * R-API-2 for a change that is not a command of its own route: a CTE that forgets the remembered
 * failures naming `kind:<identifier>` for each (account_id, identifier) row of `rows`, of the
 * `operations` given (every operation's when none). An availability check is one: a registration
 * refused with availability_check_required depended on the check, so checking the name makes the
 * identical registration a new command; a deletion refused for a lock did not, and stays refused.
 * Written into the caller's own statement, so it costs no round trip.
 */
export function forgetFailuresNamingCte(name: string, kind: string, rows: SQL, operations?: readonly string[]): SQL {
  return forgetFailuresCte(
    name,
    sql`(select distinct account_id, ${sql.raw(`'${kind}:'`)} || identifier as subject from ${rows}) named`,
    operations,
  );
}

/**
 * R-API-2 for money that came back outside a credit route (a refund inside another command): the
 * account's failures that depended on its funds (402, remembered with the `balance` subject) are
 * forgotten in the caller's transaction.
 */
export async function forgetFundsFailures(tx: Tx, accountId: string): Promise<void> {
  await tx.execute(
    sql`delete from failed_commands where account_id = ${accountId}::uuid and ${BALANCE} = any(subjects)`,
  );
}

/**
 * R-API-2 for a change another account waits on: the failures of `operations` naming
 * `kind:<identifier>` are forgotten in every account, not only the one that made the change (a
 * transfer another reseller asked for while the domain was locked here is a new command once its
 * holder unlocks it). In the caller's transaction.
 */
export async function forgetEveryAccountsFailuresNaming(
  tx: Tx,
  kind: string,
  identifier: string,
  operations: readonly string[],
): Promise<void> {
  const subject = `${kind}:${normaliserOf(kind)(identifier)}`;
  await tx.execute(
    sql`with ${forgetFailuresCte('forgotten', sql`(select distinct f.account_id, ${subject}::text as subject from failed_commands f where ${subject}::text = any(f.subjects)) named`, operations)} select 1`,
  );
}

export default fp<{ windowS: number; now?: () => Date }>(
  async function repeatedFailureGuard(app, opts) {
    const now = opts.now ?? (() => new Date());
    const state = new WeakMap<FastifyRequest, GuardState>();

    // The lookups of concurrent commands share one SELECT (each at its own time), so the guard
    // costs a fraction of a round trip per command under load and one round trip when idle. The
    // same statement tells whether the account has failures on the command's subjects, so a
    // success clears them only when there is something to clear.
    const select = preparedStatement<GuardCheckRow & { ord: number }>(
      'guard_lookup',
      sql`with k as (select * from jsonb_to_recordset(${sql.placeholder('keys')}::jsonb) as k(ord integer, ${guardProbeColumns}))
          ${guardChecks('k')}`,
    );
    const lookup = batched<GuardProbe, GuardFound>(async (items) => {
      const rows = await select(app.db, { keys: JSON.stringify(items.map((probe, ord) => ({ ord, ...probe }))) });
      const byOrd = new Map(rows.map((r) => [Number(r.ord), r]));
      return items.map((_, ord) => guardFound(byOrd.get(ord)));
    });

    // A success forgets the account's failures on the subjects it names (one statement per batch).
    const forgetStatement = preparedStatement(
      'guard_forget',
      sql`with ${forgetFailuresCte('forgotten', sql`(select k.account_id, unnest(k.subjects) as subject from jsonb_to_recordset(${sql.placeholder('items')}::jsonb) as k(account_id uuid, subjects text[])) named`)}
          select 1`,
    );
    const forget = batched<{ accountId: string; subjects: string[] }, null>(async (items) => {
      await forgetStatement(app.db, {
        items: JSON.stringify(items.map((i) => ({ account_id: i.accountId, subjects: i.subjects }))),
      });
      return items.map(() => null);
    });

    const probeOf = (st: GuardState): GuardProbe => ({
      guard_credential: st.credential!,
      guard_account: st.accountId,
      guard_fingerprint: st.identity.fingerprint,
      guard_subjects: st.identity.subjects,
      guard_at: now().toISOString(),
    });
    const refuseRepeat = async (req: FastifyRequest, st: GuardState, operation: string) =>
      settle(req, st, operation, await lookup(probeOf(st)));
    /** What the lookup found decides: a repeat of a remembered failure is refused (and is an incident). */
    const settle = async (req: FastifyRequest, st: GuardState, operation: string, found: GuardFound) => {
      st.deferred = false;
      st.failuresOnSubjects = found.onSubjects;
      const first = found.first;
      if (!first) return;
      st.credential = undefined; // the refusal is not a new failure
      // R-API-4: one incident per remembered failure, however often it is repeated (and the ladder
      // counts one per cause per day).
      await app.incidents.record({
        accountId: st.accountId,
        type: 'repeated_failed_command',
        dedupeKey: `${credentialKey(req)}:${st.identity.fingerprint}:${first.failedAt.getTime()}`,
        evidence: {
          operation,
          first_failure_request_id: first.requestId,
          first_failure_code: first.errorCode,
          repeat_request_id: req.id,
        },
      });
      const change = first.subjects.length ? `, change what it depends on (${first.subjects.join(', ')})` : '';
      throw new RepeatedFailedCommand(
        `The same ${operation} failed at ${first.failedAt.toISOString()} with ${first.statusCode} ${first.errorCode ?? ''}; alter the command${change}, or wait until ${first.expiresAt.toISOString()}`.replace(
          ' ;',
          ';',
        ),
        {
          extensions: {
            first_failure: {
              at: first.failedAt.toISOString(),
              status: first.statusCode,
              code: first.errorCode,
              request_id: first.requestId,
              depends_on: first.subjects,
            },
            retry_after: first.expiresAt.toISOString(),
          },
        },
      );
    };

    app.addHook('onRoute', (route: RouteOptions) => {
      if (!isCommandRoute(route) || !route.schema) return;
      declareErrors(route, RepeatedFailedCommand);
      const subjects = compileSubjects(route.url, route.config?.guardSubjects);
      const accountAt = route.config?.guardAccount?.split('/').filter(Boolean);
      const inStatement = route.config?.guardInStatement === true;
      appendPreValidation(route, (req) => {
        const operation = req.routeOptions.schema?.operationId;
        if (!operation) return;
        const principalAccount = req.principal?.accountId ?? undefined;
        let accountId = principalAccount;
        if (!accountId && accountAt) {
          const found: string[] = [];
          normaliseAt(
            { params: req.params, body: req.body, query: req.query },
            accountAt,
            0,
            normaliserOf('accounts'),
            found,
          );
          accountId = found[0] && UUID.test(found[0]) ? found[0] : undefined;
        }
        if (!accountId) return;
        const guarded = principalAccount !== undefined && !app.fairUsePolicy.guardExempt(operation);
        // Nothing to remember and nothing to forget: no work at all.
        if (!guarded && subjects.length === 0) return;
        const identity = identifyCommand(
          req.method,
          req.routeOptions.url ?? req.url,
          { params: req.params, query: req.query, body: req.body },
          subjects,
        );
        const st: GuardState = {
          identity,
          credential: guarded ? credentialKey(req) : undefined,
          accountId,
          failuresOnSubjects: undefined,
          deferred: false,
        };
        state.set(req, st);
        if (!st.credential) return;
        if (inStatement) {
          st.deferred = true;
          return;
        }
        return refuseRepeat(req, st, operation);
      });
    });

    app.decorateRequest('deferredGuard', function deferredGuard(this: FastifyRequest): DeferredGuard | null {
      const st = state.get(this);
      if (!st?.deferred) return null;
      const operation = this.routeOptions.schema?.operationId ?? '';
      return {
        probe: probeOf(st),
        settle: (row) => settle(this, st, operation, guardFound(row)),
        lookup: () => refuseRepeat(this, st, operation),
      };
    });

    // A guardInStatement request that failed before its statement answered: the lookup now, and a
    // repeat answers repeated_failed_command instead of the failure it would have repeated.
    app.addHook('onError', async (req, _reply, err) => {
      const st = state.get(req);
      if (!st?.deferred) return;
      try {
        await req.inRequestTransaction(() => refuseRepeat(req, st, req.routeOptions.schema?.operationId ?? ''));
      } catch (refusal) {
        if (refusal instanceof RepeatedFailedCommand) req.errorOverride = refusal;
        else req.log.error({ err: refusal, original: err.message }, 'R-API-2 lookup after a failure failed');
      }
    });

    const remember = (req: FastifyRequest, st: GuardState, status: number, code: string | null) => {
      const at = now();
      const expiresAt = new Date(at.getTime() + opts.windowS * 1000);
      const subjects = status === FUNDS_STATUS ? [...st.identity.subjects, BALANCE] : st.identity.subjects;
      const values = {
        statusCode: status,
        errorCode: code,
        requestId: req.id,
        subjects,
        accountId: st.accountId,
        failedAt: at,
        expiresAt,
      };
      return {
        expiresAt,
        write: app.db
          .insert(failedCommands)
          .values({
            credential: st.credential!,
            fingerprint: st.identity.fingerprint,
            operation: req.routeOptions.schema?.operationId ?? '',
            ...values,
          })
          .onConflictDoUpdate({
            target: [failedCommands.credential, failedCommands.fingerprint],
            set: values,
            setWhere: sql`${failedCommands.expiresAt} <= ${at}`,
          }),
      };
    };

    /** A detail that ends without a full stop gets one, so the refusal's sentence reads as its own. */
    const asSentence = (text: string): string =>
      /[.!?:]$/.test(text.trimEnd()) ? text.trimEnd() : `${text.trimEnd()}.`;
    /** A remembered failure says so in its body, so the person knows before retrying. */
    const announce = (payload: unknown, until: Date): unknown => {
      if (typeof payload !== 'string') return payload;
      try {
        const body = JSON.parse(payload) as Record<string, unknown>;
        const sentence = `Sending this exact command again is refused until ${until.toISOString()} (R-API-2), unless what it names changes first; alter it to retry sooner.`;
        return JSON.stringify({
          ...body,
          detail: typeof body.detail === 'string' && body.detail ? `${asSentence(body.detail)} ${sentence}` : sentence,
          repeat_refused_until: until.toISOString(),
        });
      } catch {
        return payload;
      }
    };

    app.addHook(
      'onSend',
      (
        req: FastifyRequest,
        reply: FastifyReply,
        payload: unknown,
        done: (err: Error | null, payload?: unknown) => void,
      ) => {
        const st = state.get(req);
        if (!st || req.idempotentReplay) return done(null, payload);
        state.delete(req);
        const status = reply.statusCode;
        if (status >= 200 && status < 300) {
          // Forget only when the lookup saw something to forget, or when no lookup ran (exempt and
          // operator routes): the common successful command costs nothing more. A failure on the
          // same object recorded by another request while this one ran is kept: it may have seen
          // the object after this change.
          if (st.identity.subjects.length === 0 || st.failuresOnSubjects === false) return done(null, payload);
          forget({ accountId: st.accountId, subjects: st.identity.subjects }).then(
            () => done(null, payload),
            (err: Error) => done(err),
          );
          return;
        }
        if (!st.credential || opts.windowS === 0 || status < 400 || status >= 500 || NOT_REMEMBERED.has(status))
          return done(null, payload);
        const code = problemCodeOf(payload);
        if (code && OWN_CODES.has(code)) return done(null, payload);
        const { expiresAt, write } = remember(req, st, status, code);
        const announced = announce(payload, expiresAt);
        // A key's stored answer is amended to the announced one: its replay says the same.
        Promise.all([write, req.amendIdempotentAnswer(announced)]).then(
          () => done(null, announced),
          (err: Error) => done(err),
        );
      },
    );

    sweepExpiredRows(app, 'failed-commands', (at) =>
      app.db.delete(failedCommands).where(lt(failedCommands.expiresAt, at)).returning({ id: failedCommands.accountId }),
    );
  },
  {
    name: 'repeated-failure-guard',
    fastify: '5.x',
    dependencies: ['db', 'jobs', 'auth', 'incidents', 'rate-limit', 'idempotency'],
  },
);
