// Webhook endpoints as rules: an account's endpoints (at most MAX_ENDPOINTS_PER_ACCOUNT), each with a
// URL the SSRF guard accepts (checked at creation and on every URL change; the delivery connector
// checks again at every delivery), known event types, a signing secret we generate, show once and
// keep sealed, and its rotation with a grace period. Disabling: by the account ('account'), by an
// operator ('operator': only an operator enables it again), or by the delivery engine ('gone',
// 'failing'). Re-enabling clears the reason and the failure run.
import { defineError, NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';
import type { Db, Tx } from '../../db/client.js';
import { UnsafeDestination } from '../../lib/ssrf-guard.js';
import { emitEvent, isKnownEventType } from '../events/api.js';
import { EndpointDisabled } from './events.js';
import {
  countEndpoints,
  deleteEndpoint,
  findEndpoint,
  insertEndpoint,
  listEndpoints,
  lockAccountEndpoints,
  lockEndpoint,
  updateEndpoint,
  type EndpointPosition,
} from './endpoint-store.js';
import type { EndpointRow } from './schemas.js';
import { newWebhookSecret, ROTATION_GRACE_HOURS } from './secrets.js';

export const UnsafeWebhookUrl = defineError(
  'unsafe_webhook_url',
  422,
  'The webhook URL must be https and reach only public addresses',
);
export const WebhookEndpointLimit = defineError(
  'webhook_endpoint_limit',
  409,
  'The account has as many webhook endpoints as it may have',
);
export const WebhookDisabledByOperator = defineError(
  'webhook_disabled_by_operator',
  409,
  'An operator disabled this webhook endpoint: only an operator can enable it again',
);

/** Endpoints per account: enough for every system a reseller runs, few enough to fan out cheaply. */
export const MAX_ENDPOINTS_PER_ACCOUNT = 20;

export interface EndpointServiceDeps {
  db: Db;
  seal: (plaintext: string) => string;
  /** The SSRF guard's creation-time check (checkDestination bound to the settings): the URL, parsed. */
  checkUrl: (url: string) => Promise<URL>;
  /** WEBHOOK_MAX_CONCURRENCY: the default and the ceiling of max_concurrency. */
  maxConcurrency: number;
  maxEndpoints?: number;
  now?: () => Date;
}

export interface EndpointInput {
  url: string;
  eventTypes: string[];
  description: string;
  enabled: boolean;
  maxConcurrency: number;
}

const HOUR_MS = 3_600_000;

/** endpoint.disabled, in the transaction that disables it (by the account or an operator). */
const emitDisabled = (tx: Tx, row: EndpointRow) =>
  emitEvent(tx, EndpointDisabled, {
    accountId: row.accountId,
    objectId: row.id,
    data: {
      id: row.id,
      url: row.url,
      disabled_reason: row.disabledReason as 'account' | 'operator',
      disabled_at: (row.disabledAt ?? new Date()).toISOString(),
    },
  });

export function createEndpointService(deps: EndpointServiceDeps) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const maxEndpoints = deps.maxEndpoints ?? MAX_ENDPOINTS_PER_ACCOUNT;

  /** The URL as we will call it (normalised by the URL parser), or 422 unsafe_webhook_url. */
  async function safeUrl(url: string): Promise<string> {
    try {
      return (await deps.checkUrl(url)).href;
    } catch (err) {
      if (err instanceof UnsafeDestination) throw new UnsafeWebhookUrl(`${err.message}`);
      throw err;
    }
  }

  /** Known types, deduplicated; '*' anywhere means every type, stored as ['*']. */
  function eventTypesOf(types: string[], problems: FieldErrorBody[]): string[] {
    types.forEach((t, i) => {
      if (!isKnownEventType(t))
        problems.push({
          pointer: `/body/event_types/${i}`,
          code: 'unknown_event_type',
          message: `${t} is not an event type (GET /v1/event-types), nor '*'`,
        });
    });
    return types.includes('*') ? ['*'] : [...new Set(types)];
  }

  function checkConcurrency(n: number | undefined, problems: FieldErrorBody[]): void {
    if (n !== undefined && n > deps.maxConcurrency)
      problems.push({
        pointer: '/body/max_concurrency',
        code: 'too_large',
        message: `at most ${deps.maxConcurrency} (the operator's setting)`,
      });
  }

  function refuse(problems: FieldErrorBody[]): void {
    if (problems.length)
      throw new ValidationFailed(`${problems.length} field(s) failed validation`, { errors: problems });
  }

  async function mine(accountId: string, id: string): Promise<EndpointRow> {
    const row = await findEndpoint(db, accountId, id);
    if (!row) throw new NotFound(`No webhook endpoint ${id}`);
    return row;
  }

  /** The fields that enable an endpoint again: no reason, no failure run. */
  const enabledState = () => ({ enabled: true, disabledReason: null, disabledAt: null, failingSince: null });

  return {
    async create(
      accountId: string,
      input: Partial<EndpointInput> & { url: string },
    ): Promise<{ row: EndpointRow; secret: string }> {
      const problems: FieldErrorBody[] = [];
      const eventTypes = eventTypesOf(input.eventTypes ?? ['*'], problems);
      checkConcurrency(input.maxConcurrency, problems);
      refuse(problems);
      // The name is resolved before the transaction: no lock is held while DNS answers.
      const url = await safeUrl(input.url);
      const secret = newWebhookSecret();
      const at = now();
      const enabled = input.enabled ?? true;
      const row = await db.transaction(async (tx) => {
        await lockAccountEndpoints(tx, accountId);
        const n = await countEndpoints(tx, accountId);
        if (n >= maxEndpoints)
          throw new WebhookEndpointLimit(
            `The account has ${n} webhook endpoints, the most it may have (${maxEndpoints}); delete one first`,
          );
        return insertEndpoint(tx, {
          accountId,
          url,
          eventTypes,
          description: input.description ?? '',
          enabled,
          disabledReason: enabled ? null : 'account',
          disabledAt: enabled ? null : at,
          maxConcurrency: input.maxConcurrency ?? deps.maxConcurrency,
          secretSealed: deps.seal(secret),
          createdAt: at,
          updatedAt: at,
        });
      });
      return { row, secret };
    },

    get: mine,

    list(accountId: string, q: { after?: EndpointPosition | undefined; limit: number }): Promise<EndpointRow[]> {
      return listEndpoints(db, { accountId, after: q.after, limit: q.limit + 1 });
    },

    async update(accountId: string, id: string, patch: Partial<EndpointInput>): Promise<EndpointRow> {
      const problems: FieldErrorBody[] = [];
      const eventTypes = patch.eventTypes && eventTypesOf(patch.eventTypes, problems);
      checkConcurrency(patch.maxConcurrency, problems);
      refuse(problems);
      await mine(accountId, id); // 404 before the URL is resolved
      const url = patch.url !== undefined ? await safeUrl(patch.url) : undefined;
      return db.transaction(async (tx) => {
        const row = await lockEndpoint(tx, accountId, id);
        if (!row) throw new NotFound(`No webhook endpoint ${id}`);
        const at = now();
        let state = {};
        if (patch.enabled === true && !row.enabled) {
          if (row.disabledReason === 'operator')
            throw new WebhookDisabledByOperator(
              'An operator disabled this endpoint; ask your provider to enable it again',
            );
          state = enabledState();
        } else if (patch.enabled === false && row.enabled) {
          state = { enabled: false, disabledReason: 'account', disabledAt: at };
        }
        const updated = await updateEndpoint(tx, id, {
          ...(url !== undefined ? { url } : {}),
          // A new URL is a new receiver: its failure run starts afresh.
          ...(url !== undefined && url !== row.url ? { failingSince: null } : {}),
          ...(eventTypes ? { eventTypes } : {}),
          ...(patch.description !== undefined ? { description: patch.description } : {}),
          ...(patch.maxConcurrency !== undefined ? { maxConcurrency: patch.maxConcurrency } : {}),
          ...state,
          updatedAt: at,
        });
        if (!updated.enabled && row.enabled) await emitDisabled(tx, updated);
        return updated;
      });
    },

    async remove(accountId: string, id: string): Promise<void> {
      if (!(await deleteEndpoint(db, accountId, id))) throw new NotFound(`No webhook endpoint ${id}`);
    },

    /**
     * A new secret, shown once. The current one becomes the previous one and keeps signing for
     * `graceHours`; a previous secret still in its grace period is dropped at once (only the two
     * newest secrets ever sign).
     */
    async rotateSecret(
      accountId: string,
      id: string,
      graceHours: number = ROTATION_GRACE_HOURS.default,
    ): Promise<{ row: EndpointRow; secret: string }> {
      const secret = newWebhookSecret();
      const row = await db.transaction(async (tx) => {
        const current = await lockEndpoint(tx, accountId, id);
        if (!current) throw new NotFound(`No webhook endpoint ${id}`);
        const at = now();
        return updateEndpoint(tx, id, {
          secretSealed: deps.seal(secret),
          previousSecretSealed: current.secretSealed,
          previousSecretExpiresAt: new Date(at.getTime() + graceHours * HOUR_MS),
          updatedAt: at,
        });
      });
      return { row, secret };
    },

    adminList(q: {
      accountId?: string | undefined;
      enabled?: boolean | undefined;
      after?: EndpointPosition | undefined;
      limit: number;
    }): Promise<EndpointRow[]> {
      return listEndpoints(db, { ...q, limit: q.limit + 1 });
    },

    /** Operator: disabled with reason 'operator' (whatever disabled it before); the account cannot undo it. */
    async adminDisable(id: string): Promise<EndpointRow> {
      return db.transaction(async (tx) => {
        const row = await lockEndpoint(tx, null, id);
        if (!row) throw new NotFound(`No webhook endpoint ${id}`);
        if (row.disabledReason === 'operator') return row;
        const at = now();
        const updated = await updateEndpoint(tx, id, {
          enabled: false,
          disabledReason: 'operator',
          disabledAt: at,
          updatedAt: at,
        });
        // Already disabled (by the account or the deliverer): the account was told then.
        if (row.enabled) await emitDisabled(tx, updated);
        return updated;
      });
    },

    /** Operator: enabled again, whatever disabled it; the reason and the failure run are cleared. */
    async adminEnable(id: string): Promise<EndpointRow> {
      return db.transaction(async (tx) => {
        const row = await lockEndpoint(tx, null, id);
        if (!row) throw new NotFound(`No webhook endpoint ${id}`);
        if (row.enabled) return row;
        return updateEndpoint(tx, id, { ...enabledState(), updatedAt: now() });
      });
    },
  };
}

export type EndpointService = ReturnType<typeof createEndpointService>;
