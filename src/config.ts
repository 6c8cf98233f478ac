// The environment, validated once at start into a typed, frozen Config. No other file reads process.env.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import ipaddr from 'ipaddr.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every variable the server reads, with its default. `.env.example` documents the same list. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port to listen on' }),
  HOST: Type.String({
    minLength: 1,
    default: '127.0.0.1',
    description: 'Address to listen on (0.0.0.0 in containers)',
  }),
  DATABASE_URL: Type.Optional(
    Type.String({
      pattern: '^postgres(ql)?://',
      description: 'PostgreSQL connection string; unset = embedded PGlite under DATA_DIR',
    }),
  ),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'pg pool size per instance' }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 10_000,
    description:
      'PostgreSQL: longest a statement may run, and longest the server waits for any answer, before the request answers 503',
  }),
  DATABASE_READY_TIMEOUT_MS: Type.Integer({
    minimum: 50,
    maximum: 60_000,
    default: 2_000,
    description: 'How long /readyz waits for the database before answering 503',
  }),
  DATA_DIR: Type.String({
    minLength: 1,
    default: './data',
    description: 'Embedded mode: where PGlite keeps its files',
  }),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', description: 'Redis for shared rate-limit buckets; unset = in process' }),
  ),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({
    minimum: 10,
    maximum: 60_000,
    default: 250,
    description: 'Longest wait for a Redis answer; past it rate limits fail open and /readyz reports redis as degraded',
  }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info', description: 'pino level' }),
  TRUST_PROXY: Type.String({
    default: 'false',
    pattern: '^(true|false|[0-9]{1,2}|[0-9a-fA-F:.,/ ]+)$',
    description:
      'false, true, a hop count, or a comma-separated list of proxy addresses/CIDRs whose X-Forwarded-For is trusted',
  }),
  MASTER_KEY: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9+/]{43}=$',
      description:
        '32 random bytes, base64 (openssl rand -base64 32); encrypts secrets at rest. Required with DATABASE_URL',
    }),
  ),
  BODY_LIMIT: Type.Integer({
    minimum: 1024,
    maximum: 64 * 1024 * 1024,
    default: 1024 * 1024,
    description: 'Largest request body in bytes',
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 10_000,
    description: 'How long in-flight requests may take to finish on SIGTERM',
  }),
  SHUTDOWN_KEEPALIVE_GRACE_MS: Type.Integer({
    minimum: 0,
    maximum: 60_000,
    default: 1_000,
    description:
      'On SIGTERM, how long kept-alive connections stay open so a request already on its way gets 503 with Connection: close, not a reset',
  }),
  CORS_ORIGINS: Type.Optional(
    Type.String({
      pattern: '^\\s*(\\*|https?://[^\\s,/]+)(\\s*,\\s*(\\*|https?://[^\\s,/]+))*\\s*$',
      description:
        'Comma-separated origins (https://app.example.com, no path; * = any) whose browsers may call the API; unset = no CORS headers (server-to-server use)',
    }),
  ),
  REDIS_KEY_PREFIX: Type.String({
    pattern: '^[A-Za-z0-9:_.-]{0,64}$',
    default: 'reseller-api:',
    description: 'Prefix of every Redis key, so several deployments can share one Redis',
  }),
  FAIR_USE_REFRESH_MS: Type.Integer({
    minimum: 100,
    maximum: 300_000,
    default: 5_000,
    description: 'How often an instance rereads rate limits and costs that operators changed',
  }),
  REPEATED_FAILURE_WINDOW_S: Type.Integer({
    minimum: 0,
    maximum: 86_400,
    default: 600,
    description: 'R-API-2: how long an identical failed command is refused',
  }),
  MAX_IN_FLIGHT_PER_ACCOUNT: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 32,
    description: 'Requests one account may have running at once on one instance',
  }),
  BULK_DAILY_THRESHOLD: Type.Integer({
    minimum: 1,
    default: 10_000,
    description: 'R-API-3: orders and updates per account per UTC day before a bulk notice is expected',
  }),
  BULK_DAILY_CEILING: Type.Integer({
    minimum: 1,
    default: 20_000,
    description: 'R-API-3: past this, calls without a covering bulk notice are refused',
  }),
  DROP_CATCH_INTERVAL_S: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 5,
    description: 'R-DOM-4: the same account may check the same name once per this many seconds',
  }),
  INCIDENT_PERIOD_DAYS: Type.Integer({
    minimum: 1,
    maximum: 3650,
    default: 30,
    description: 'R-API-4: the rolling period over which open incidents climb the ladder',
  }),
  RATE_LIMIT_INCIDENT_HITS: Type.Integer({
    minimum: 1,
    default: 100,
    description: 'R-API-4: 429s of one account within a minute that make a sustained-rate-limit incident',
  }),
  DOMAIN_CHECK_WINDOW_S: Type.Integer({
    minimum: 10,
    maximum: 7 * 86_400,
    default: 3_600,
    description: 'R-DOM-2: a registration needs a check of the name that found it free within this window',
  }),
  DOMAIN_QUOTE_TTL_S: Type.Integer({
    minimum: 10,
    maximum: 86_400,
    default: 900,
    description: 'How long a price quote from a check is honoured',
  }),
  LICENSE_NOTICE_DAYS: Type.Integer({
    minimum: 1,
    maximum: 90,
    default: 7,
    description:
      'R-LIC-2: days after a multi-use is detected in which the reseller may resolve it (rebind, or the other server stopped)',
  }),
  LICENSE_CONFIRM_DAYS: Type.Integer({
    minimum: 1,
    maximum: 365,
    default: 30,
    description:
      'R-LIC-2: days from first detection after which an extra address still seen makes the multi-use confirmed',
  }),
  LICENSE_SEEN_DAYS: Type.Integer({
    minimum: 1,
    maximum: 90,
    default: 7,
    description: 'R-LIC-2: an extra address counts as still seen while its last report is at most this many days old',
  }),
  LICENSE_TERMINATE_AFTER_PERIODS: Type.Integer({
    minimum: 1,
    maximum: 120,
    default: 3,
    description:
      'R-LIC-2: billing periods charged for a confirmed multi-use after which a license still multi-used is terminated',
  }),
  LICENSE_REBINDS_PER_PERIOD: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 3,
    description: 'How many times a license may be bound to another address of its server in one billing period',
  }),
  LICENSE_QUOTE_TTL_S: Type.Integer({
    minimum: 10,
    maximum: 86_400,
    default: 900,
    description: 'How long a license price quote is honoured',
  }),
  HOSTING_QUOTE_TTL_S: Type.Integer({
    minimum: 10,
    maximum: 86_400,
    default: 900,
    description: 'How long a hosting quote (subscription, add-on, renewal, plan change) is honoured (R-ADD-2)',
  }),
  TICKET_ATTACHMENT_MAX_BYTES: Type.Integer({
    minimum: 1024,
    maximum: 26_214_400,
    default: 5_242_880,
    description: 'Largest ticket attachment in bytes (R-TKT-1); kept in PostgreSQL',
  }),
  TICKET_ATTACHMENTS_PER_MESSAGE: Type.Integer({
    minimum: 0,
    maximum: 50,
    default: 5,
    description:
      'Most attachments on one ticket message; a request may then be as large as this many attachments of the largest size, in base64',
  }),
  TICKET_ATTACHMENTS_PER_TICKET: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 100,
    description: 'Most attachments on one ticket, all its messages together',
  }),
  TICKET_EMAIL_MAX_BYTES: Type.Integer({
    minimum: 10_240,
    maximum: 52_428_800,
    default: 26_214_400,
    description: 'Largest inbound e-mail (raw RFC 5322 message) the ticket intake takes (R-TKT-10)',
  }),
  TICKET_SLA_WARNING_LEAD_S: Type.Integer({
    minimum: 0,
    maximum: 86_400,
    default: 7_200,
    description:
      'How much response time (business or calendar, as the period counts) is left when ticket.sla.warning is sent before a breach',
  }),
  TICKET_TIMERS_INTERVAL_MS: Type.Integer({
    minimum: 1_000,
    maximum: 3_600_000,
    default: 15_000,
    description:
      'How often due ticket timers (warnings, breaches, the 72-hour and 5-day closes, agreed times) are looked for',
  }),
  DROP_CATCH_NAMES_PER_MINUTE: Type.Integer({
    minimum: 1,
    default: 300,
    description: 'R-DOM-4: distinct names one account checks in a minute that make a drop-catch incident',
  }),
  DOMAIN_TRANSFER_APPROVAL_HOURS: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 60 * 24,
      description:
        "R-DOM-3: hours a transfer waits for the owner's approval before it expires; unset = the TLD's transfer_approval_days",
    }),
  ),
  ABUSE_RESPONSE_HOURS: Type.Integer({
    minimum: 1,
    maximum: 24 * 30,
    default: 48,
    description: 'R-DOM-6: hours a reseller has to respond to an abuse complaint before it escalates',
  }),
  JOBS_ENABLED: Type.Boolean({
    default: true,
    description:
      'Run the background jobs (domain lifecycle, transfer expiry, abuse escalation) on this instance; safe on several at once',
  }),
  JOBS_INTERVAL_MS: Type.Integer({
    minimum: 100,
    maximum: 3_600_000,
    default: 60_000,
    description:
      'How often each background job runs (rounded to whole seconds, at least 1 s: one run per slot across instances)',
  }),
  JOBS_POLL_INTERVAL_MS: Type.Integer({
    minimum: 500,
    maximum: 60_000,
    default: 2_000,
    description: 'How often an instance asks the job queue for due work when it found none',
  }),
  JOBS_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 20,
    default: 2,
    description: 'Jobs one instance runs at the same time',
  }),
  EVENTS_FANOUT_POLL_MS: Type.Integer({
    minimum: 20,
    maximum: 60_000,
    default: 200,
    description: 'How often an instance that runs jobs looks for new events to hand to webhooks and e-mail when idle',
  }),
  EVENT_RETENTION_DAYS: Type.Integer({
    minimum: 1,
    maximum: 365,
    default: 30,
    description: 'Days events stay in the feed (and delivery bodies in the delivery log)',
  }),
  WEBHOOK_POLL_MS: Type.Integer({
    minimum: 20,
    maximum: 60_000,
    default: 200,
    description: 'How often an instance that runs jobs looks for due webhook deliveries when idle',
  }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 15_000,
    default: 15_000,
    description: 'Connect timeout and response timeout of one webhook delivery attempt (each at most 15 s)',
  }),
  WEBHOOK_MAX_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 10,
    description: 'Default deliveries in flight at once per endpoint (an endpoint may set fewer)',
  }),
  WEBHOOK_LEASE_MS: Type.Integer({
    minimum: 1_000,
    maximum: 3_600_000,
    default: 60_000,
    description: 'How long a worker holds a delivery; a worker that dies mid-delivery is retried after it',
  }),
  WEBHOOK_DISABLE_AFTER_DAYS: Type.Integer({
    minimum: 1,
    maximum: 30,
    default: 5,
    description: 'An endpoint whose every delivery failed for this long is disabled (endpoint.disabled event)',
  }),
  WEBHOOK_LOG_RETENTION_DAYS: Type.Integer({
    minimum: 30,
    maximum: 3650,
    default: 90,
    description:
      'A finished webhook delivery (succeeded or failed) and its attempts are deleted this many days after it finished (bodies are cleared after EVENT_RETENTION_DAYS)',
  }),
  WEBHOOK_ALLOWED_RANGES: Type.Optional(
    Type.String({
      description:
        'Comma-separated CIDR ranges webhook URLs may reach besides public addresses, and over plain http (tests: 127.0.0.0/8). Empty: public https only',
    }),
  ),
  SMTP_URL: Type.Optional(
    Type.String({
      description: 'smtp:// or smtps:// URL of the mail relay for e-mail notifications; unset: e-mail is off',
    }),
  ),
  MAIL_FROM: Type.String({
    default: 'Reseller API <no-reply@localhost>',
    description: 'From address of e-mail notifications',
  }),
  AUTH_CACHE_TTL_MS: Type.Integer({
    minimum: 0,
    maximum: 60_000,
    default: 5_000,
    description:
      'How long an instance may reuse a credential lookup; bounds how late another instance sees a revocation',
  }),
  SESSION_TTL_HOURS: Type.Integer({ minimum: 1, maximum: 720, default: 48, description: 'Lifetime of a login token' }),
  SIGNATURE_MAX_SKEW_S: Type.Integer({
    minimum: 30,
    maximum: 3600,
    default: 300,
    description: 'Signed requests: allowed clock difference, seconds',
  }),
  LOGIN_MAX_FAILURES_PER_USER: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 5,
    description: 'Consecutive failed logins for one username (known or not) before it is locked',
  }),
  LOGIN_MAX_FAILURES_PER_ADDRESS: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 20,
    description: 'Failed logins from one address within the window before it is locked',
  }),
  LOGIN_FAILURE_WINDOW_S: Type.Integer({
    minimum: 10,
    maximum: 86_400,
    default: 900,
    description:
      "Window for counting failed logins per address; a username's count starts again after this long without a failure",
  }),
  LOGIN_LOCKOUT_S: Type.Integer({
    minimum: 10,
    maximum: 86_400,
    default: 900,
    description: 'How long a login lock lasts',
  }),
  BOOTSTRAP_OPERATOR_USERNAME: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$',
      description: 'First operator, created at start when no operator exists',
    }),
  ),
  BOOTSTRAP_OPERATOR_PASSWORD: Type.Optional(
    Type.String({ minLength: 12, maxLength: 256, description: 'Password of the bootstrap operator' }),
  ),
  BOOTSTRAP_OPERATOR_EMAIL: Type.Optional(
    Type.String({ format: 'email', description: 'E-mail of the bootstrap operator' }),
  ),
  PUBLIC_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^\\s]+$',
      description: 'Public base URL for the OpenAPI servers list; unset = relative (/)',
    }),
  ),
});
export type Env = Static<typeof EnvSchema>;

export type TrustProxy = boolean | number | string[];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly databasePoolMax: number;
  /** PostgreSQL statement_timeout and the driver's query_timeout (a stalled server). */
  readonly databaseStatementTimeoutMs: number;
  readonly databaseReadyTimeoutMs: number;
  readonly redisCommandTimeoutMs: number;
  /** Origins allowed by CORS; empty = CORS off. */
  readonly corsOrigins: readonly string[];
  readonly shutdownKeepAliveGraceMs: number;
  readonly dataDir: string;
  readonly redisUrl: string | undefined;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly trustProxy: TrustProxy;
  readonly masterKey: Buffer | undefined;
  readonly bodyLimit: number;
  readonly shutdownTimeoutMs: number;
  readonly publicUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly fairUseRefreshMs: number;
  readonly repeatedFailureWindowS: number;
  readonly maxInFlightPerAccount: number;
  readonly bulkDailyThreshold: number;
  readonly bulkDailyCeiling: number;
  readonly dropCatchIntervalS: number;
  readonly incidentPeriodDays: number;
  readonly domains: {
    readonly checkWindowS: number;
    readonly quoteTtlS: number;
    readonly dropCatchNamesPerMinute: number;
    readonly transferApprovalHours: number | undefined;
    readonly abuseResponseHours: number;
  };
  readonly licenses: {
    readonly noticeDays: number;
    readonly confirmDays: number;
    readonly seenDays: number;
    readonly terminateAfterPeriods: number;
    readonly rebindsPerPeriod: number;
    readonly quoteTtlS: number;
  };
  readonly hosting: {
    readonly quoteTtlS: number;
  };
  readonly tickets: {
    readonly attachmentMaxBytes: number;
    readonly attachmentsPerMessage: number;
    readonly attachmentsPerTicket: number;
    readonly emailMaxBytes: number;
    readonly warningLeadS: number;
    readonly timersIntervalMs: number;
  };
  readonly jobs: {
    readonly enabled: boolean;
    readonly intervalMs: number;
    readonly pollIntervalMs: number;
    readonly concurrency: number;
  };
  readonly events: {
    readonly fanoutPollMs: number;
    readonly retentionDays: number;
  };
  readonly webhooks: {
    readonly pollMs: number;
    readonly timeoutMs: number;
    readonly maxConcurrency: number;
    readonly leaseMs: number;
    readonly disableAfterDays: number;
    readonly logRetentionDays: number;
    /** CIDR ranges allowed besides public addresses (and over http). */
    readonly allowedRanges: readonly string[];
  };
  readonly mail: {
    readonly smtpUrl: string | undefined;
    readonly from: string;
  };
  readonly rateLimitIncidentHits: number;
  readonly bootstrapOperator:
    { readonly username: string; readonly password: string; readonly email: string } | undefined;
  readonly auth: {
    readonly cacheTtlMs: number;
    readonly sessionTtlMs: number;
    readonly signatureMaxSkewS: number;
    readonly maxFailuresPerUser: number;
    readonly maxFailuresPerAddress: number;
    readonly failureWindowS: number;
    readonly lockoutS: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function parseTrustProxy(raw: string): TrustProxy {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^[0-9]{1,2}$/.test(raw)) return Number(raw);
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The environment with a `.env` file's variables under it: the file fills in what the real
 * environment does not set (the same precedence as `node --env-file`). No file, no change.
 */
export function withEnvFile(
  env: Record<string, string | undefined>,
  file = '.env',
): Record<string, string | undefined> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return env;
    throw err;
  }
  return { ...parseEnv(text), ...env };
}

/** Validates the given environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const known = Object.keys(EnvSchema.properties) as (keyof Env)[];
  // Only our variables, and an empty string counts as unset so `FOO=` in a .env falls back to the default.
  const picked: Record<string, unknown> = {};
  for (const key of known) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const withDefaults = Value.Default(EnvSchema, picked);
  const converted = Value.Convert(EnvSchema, withDefaults) as Record<string, unknown>;
  const problems: string[] = [];
  for (const err of Value.Errors(EnvSchema, converted)) {
    const name =
      err.instancePath.replace(/^\//, '') ||
      String((err.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? 'environment');
    const allowed = (EnvSchema.properties as Record<string, { enum?: readonly string[]; type?: string }>)[name];
    const choices = allowed?.enum ? `: ${allowed.enum.join(', ')}` : allowed?.type === 'boolean' ? ': true, false' : '';
    problems.push(`${name}: ${err.message}${choices} (got ${JSON.stringify(converted[name])})`);
  }
  if (problems.length === 0) {
    const e = converted as Env;
    const proxies = parseTrustProxy(e.TRUST_PROXY);
    if (Array.isArray(proxies)) {
      const bad = proxies.filter((p) => !(p.includes('/') ? ipaddr.isValidCIDR(p) : ipaddr.isValid(p)));
      if (bad.length > 0) problems.push(`TRUST_PROXY: not an address or CIDR: ${bad.join(', ')}`);
    }
    if ((e.BOOTSTRAP_OPERATOR_USERNAME === undefined) !== (e.BOOTSTRAP_OPERATOR_PASSWORD === undefined)) {
      problems.push(
        'BOOTSTRAP_OPERATOR_PASSWORD: set both BOOTSTRAP_OPERATOR_USERNAME and BOOTSTRAP_OPERATOR_PASSWORD, or neither',
      );
    }
    if (e.SHUTDOWN_KEEPALIVE_GRACE_MS >= e.SHUTDOWN_TIMEOUT_MS)
      problems.push('SHUTDOWN_KEEPALIVE_GRACE_MS: must be below SHUTDOWN_TIMEOUT_MS');
    if (e.BULK_DAILY_CEILING < e.BULK_DAILY_THRESHOLD)
      problems.push('BULK_DAILY_CEILING: must not be below BULK_DAILY_THRESHOLD');
    if (e.DATABASE_URL !== undefined && e.MASTER_KEY === undefined) {
      problems.push('MASTER_KEY: required when DATABASE_URL is set (generate one with: openssl rand -base64 32)');
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const e = converted as Env;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databaseStatementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    databaseReadyTimeoutMs: e.DATABASE_READY_TIMEOUT_MS,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    corsOrigins: Object.freeze(
      e.CORS_ORIGINS === undefined
        ? []
        : e.CORS_ORIGINS.split(',')
            .map((o) => o.trim())
            .filter(Boolean),
    ),
    shutdownKeepAliveGraceMs: e.SHUTDOWN_KEEPALIVE_GRACE_MS,
    dataDir: e.DATA_DIR,
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    masterKey: e.MASTER_KEY === undefined ? undefined : Buffer.from(e.MASTER_KEY, 'base64'),
    bodyLimit: e.BODY_LIMIT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    fairUseRefreshMs: e.FAIR_USE_REFRESH_MS,
    repeatedFailureWindowS: e.REPEATED_FAILURE_WINDOW_S,
    maxInFlightPerAccount: e.MAX_IN_FLIGHT_PER_ACCOUNT,
    bulkDailyThreshold: e.BULK_DAILY_THRESHOLD,
    bulkDailyCeiling: e.BULK_DAILY_CEILING,
    dropCatchIntervalS: e.DROP_CATCH_INTERVAL_S,
    incidentPeriodDays: e.INCIDENT_PERIOD_DAYS,
    domains: Object.freeze({
      checkWindowS: e.DOMAIN_CHECK_WINDOW_S,
      quoteTtlS: e.DOMAIN_QUOTE_TTL_S,
      dropCatchNamesPerMinute: e.DROP_CATCH_NAMES_PER_MINUTE,
      transferApprovalHours: e.DOMAIN_TRANSFER_APPROVAL_HOURS,
      abuseResponseHours: e.ABUSE_RESPONSE_HOURS,
    }),
    licenses: Object.freeze({
      noticeDays: e.LICENSE_NOTICE_DAYS,
      confirmDays: e.LICENSE_CONFIRM_DAYS,
      seenDays: e.LICENSE_SEEN_DAYS,
      terminateAfterPeriods: e.LICENSE_TERMINATE_AFTER_PERIODS,
      rebindsPerPeriod: e.LICENSE_REBINDS_PER_PERIOD,
      quoteTtlS: e.LICENSE_QUOTE_TTL_S,
    }),
    hosting: Object.freeze({ quoteTtlS: e.HOSTING_QUOTE_TTL_S }),
    tickets: Object.freeze({
      attachmentMaxBytes: e.TICKET_ATTACHMENT_MAX_BYTES,
      attachmentsPerMessage: e.TICKET_ATTACHMENTS_PER_MESSAGE,
      attachmentsPerTicket: e.TICKET_ATTACHMENTS_PER_TICKET,
      emailMaxBytes: e.TICKET_EMAIL_MAX_BYTES,
      warningLeadS: e.TICKET_SLA_WARNING_LEAD_S,
      timersIntervalMs: e.TICKET_TIMERS_INTERVAL_MS,
    }),
    jobs: Object.freeze({
      enabled: e.JOBS_ENABLED,
      intervalMs: e.JOBS_INTERVAL_MS,
      pollIntervalMs: e.JOBS_POLL_INTERVAL_MS,
      concurrency: e.JOBS_CONCURRENCY,
    }),
    events: Object.freeze({ fanoutPollMs: e.EVENTS_FANOUT_POLL_MS, retentionDays: e.EVENT_RETENTION_DAYS }),
    webhooks: Object.freeze({
      pollMs: e.WEBHOOK_POLL_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxConcurrency: e.WEBHOOK_MAX_CONCURRENCY,
      leaseMs: e.WEBHOOK_LEASE_MS,
      disableAfterDays: e.WEBHOOK_DISABLE_AFTER_DAYS,
      logRetentionDays: e.WEBHOOK_LOG_RETENTION_DAYS,
      allowedRanges: Object.freeze(
        (e.WEBHOOK_ALLOWED_RANGES ?? '')
          .split(',')
          .map((r) => r.trim())
          .filter((r) => r !== ''),
      ),
    }),
    mail: Object.freeze({ smtpUrl: e.SMTP_URL || undefined, from: e.MAIL_FROM }),
    rateLimitIncidentHits: e.RATE_LIMIT_INCIDENT_HITS,
    bootstrapOperator:
      e.BOOTSTRAP_OPERATOR_USERNAME && e.BOOTSTRAP_OPERATOR_PASSWORD
        ? Object.freeze({
            username: e.BOOTSTRAP_OPERATOR_USERNAME,
            password: e.BOOTSTRAP_OPERATOR_PASSWORD,
            email: e.BOOTSTRAP_OPERATOR_EMAIL ?? `${e.BOOTSTRAP_OPERATOR_USERNAME}@localhost`,
          })
        : undefined,
    auth: Object.freeze({
      cacheTtlMs: e.AUTH_CACHE_TTL_MS,
      sessionTtlMs: e.SESSION_TTL_HOURS * 3_600_000,
      signatureMaxSkewS: e.SIGNATURE_MAX_SKEW_S,
      maxFailuresPerUser: e.LOGIN_MAX_FAILURES_PER_USER,
      maxFailuresPerAddress: e.LOGIN_MAX_FAILURES_PER_ADDRESS,
      failureWindowS: e.LOGIN_FAILURE_WINDOW_S,
      lockoutS: e.LOGIN_LOCKOUT_S,
    }),
  });
}
