// buildApp(config): the whole application as one Fastify instance. server.ts and the tests use it.
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import type { Store } from './db/client.js';
import { loggerOptions } from './logger.js';
import { buildSerializerFactory, buildValidatorFactory, emptyBodyAsObject, refuseUnsafeUrlText } from './validation.js';
import dbPlugin from './plugins/db.js';
import openapiPlugin from './plugins/openapi.js';
import problemJsonPlugin, {
  clientErrorHandler,
  frameworkErrorHandler,
  type UndeclaredError,
} from './plugins/problem-json.js';
import jsonBodiesOnly from './plugins/json-bodies-only.js';
import corsPlugin from './plugins/cors.js';
import responseHeaders from './plugins/response-headers.js';
import drainPlugin from './plugins/drain.js';
import requestIdPlugin, { genRequestId } from './plugins/request-id.js';
import auditPlugin from './plugins/audit.js';
import bulkWorkPlugin from './plugins/bulk-work.js';
import cursorsPlugin from './plugins/cursors.js';
import authPlugin from './plugins/auth.js';
import idempotencyPlugin from './plugins/idempotency.js';
import jsonBodyPlugin from './plugins/json-body.js';
import incidentsPlugin from './plugins/incidents.js';
import jobsPlugin from './plugins/jobs.js';
import eventFanoutPlugin from './plugins/event-fanout.js';
import rateLimitPlugin from './plugins/rate-limit.js';
import repeatedFailureGuard from './plugins/repeated-failure-guard.js';
import redisPlugin from './plugins/redis.js';
import secretsPlugin from './plugins/secrets.js';
import mailerPlugin from './plugins/mailer.js';
import type { RegistryBackend } from './modules/domains/registry.js';
import type { AreaList } from './modules/area.js';
import type { Resolver } from './lib/ssrf-guard.js';
import healthArea from './modules/health/index.js';
import accountsArea from './modules/accounts/index.js';
import billingArea from './modules/billing/index.js';
import fairUseArea from './modules/fair-use/index.js';
import domainsArea from './modules/domains/index.js';
import eventsArea from './modules/events/index.js';
import webhooksArea from './modules/webhooks/index.js';
import notificationsArea from './modules/notifications/index.js';
import licensesArea from './modules/licenses/index.js';
import hostingArea from './modules/hosting/index.js';
import ticketsArea from './modules/tickets/index.js';

/** The business areas, each a plugin that owns its routes, services and jobs (src/modules/<area>/index.ts). */
export const AREAS: AreaList = [
  { name: 'health', plugin: healthArea },
  { name: 'accounts', plugin: accountsArea },
  { name: 'billing', plugin: billingArea },
  { name: 'fair-use', plugin: fairUseArea },
  { name: 'domains', plugin: domainsArea },
  { name: 'licenses', plugin: licensesArea },
  { name: 'hosting', plugin: hostingArea },
  { name: 'tickets', plugin: ticketsArea },
  { name: 'events', plugin: eventsArea },
  { name: 'notifications', plugin: notificationsArea },
  { name: 'webhooks', plugin: webhooksArea },
];

export interface BuildOptions {
  /** Use this store instead of opening one from the config; the caller closes it. */
  store?: Store;
  /** Log destination (tests read logs back from it). */
  logStream?: DestinationStream;
  /** The registry backend; default the built-in one (state in our database). */
  registry?: RegistryBackend;
  /** How webhook hosts are resolved (the SSRF guard's tests inject one); default the system's. */
  resolver?: Resolver;
  /** Fair use's clock (repeated-failure windows, incident days); tests inject one. Default: now. */
  now?: () => Date;
  /**
   * Check every problem against the codes its route declares: an undeclared code is reported here
   * and answered 500 instead (the tests turn it on; see plugins/problem-json.ts).
   */
  checkErrorCodes?: (undeclared: UndeclaredError) => void;
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

const hopsTrust = (hops: number) => (_addr: string, i: number) => i < hops;

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<App> {
  const app = Fastify({
    logger: loggerOptions({ level: config.logLevel, ...(opts.logStream ? { stream: opts.logStream } : {}) }),
    genReqId: genRequestId,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    // A hop count becomes proxy-addr's function form: trust the nearest N proxies.
    trustProxy: typeof config.trustProxy === 'number' ? hopsTrust(config.trustProxy) : config.trustProxy,
    bodyLimit: config.bodyLimit,
    // A domain name is up to 253 characters, and its Unicode form percent-encoded is longer still.
    routerOptions: { maxParamLength: 1024 },
    // We answer 503 problem+json ourselves while draining (problem-json plugin).
    return503OnClosing: false,
    // Fastify's default (10 s) stopped an embedded server whose store opened and migrated slowly on
    // a loaded machine (CI with other work beside). PostgreSQL's own connect and statement timeouts
    // bound the db plugin; this only bounds what has no deadline of its own.
    pluginTimeout: 120_000,
    schemaController: {
      compilersFactory: { buildValidator: buildValidatorFactory(), buildSerializer: buildSerializerFactory() },
    },
    // Errors raised before a route runs leave as problem+json too (plugins/problem-json.ts).
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('preValidation', emptyBodyAsObject);
  await app.register(requestIdPlugin);
  await app.register(problemJsonPlugin, opts.checkErrorCodes ? { checkErrorCodes: opts.checkErrorCodes } : {});
  app.addHook('onRequest', refuseUnsafeUrlText);
  await app.register(jsonBodyPlugin);
  await app.register(jsonBodiesOnly);
  await app.register(responseHeaders);
  await app.register(drainPlugin, { keepAliveGraceMs: config.shutdownKeepAliveGraceMs });
  await app.register(corsPlugin, { origins: config.corsOrigins });
  await app.register(dbPlugin, { ...config, ...(opts.store ? { store: opts.store } : {}) });
  await app.register(redisPlugin, { redisUrl: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs });
  await app.register(secretsPlugin, { masterKey: config.masterKey, dataDir: config.dataDir });
  await app.register(mailerPlugin, { smtpUrl: config.mail.smtpUrl, from: config.mail.from });
  await app.register(cursorsPlugin);
  // auth documents each route's security, which the openapi plugin then checks: auth goes first.
  await app.register(authPlugin, {
    cacheTtlMs: config.auth.cacheTtlMs,
    signatureMaxSkewS: config.auth.signatureMaxSkewS,
  });
  await app.register(jobsPlugin, config.jobs);
  await app.register(eventFanoutPlugin, { enabled: config.jobs.enabled, pollMs: config.events.fanoutPollMs });
  await app.register(incidentsPlugin, {
    periodDays: config.incidentPeriodDays,
    ...(opts.now ? { now: opts.now } : {}),
  });
  await app.register(rateLimitPlugin, {
    redisKeyPrefix: config.redisKeyPrefix,
    refreshMs: config.fairUseRefreshMs,
    maxInFlightPerAccount: config.maxInFlightPerAccount,
    dropCatchIntervalS: config.dropCatchIntervalS,
    incidentHitsPerMinute: config.rateLimitIncidentHits,
  });
  await app.register(idempotencyPlugin);
  await app.register(repeatedFailureGuard, {
    windowS: config.repeatedFailureWindowS,
    ...(opts.now ? { now: opts.now } : {}),
  });
  await app.register(bulkWorkPlugin, { threshold: config.bulkDailyThreshold, ceiling: config.bulkDailyCeiling });
  await app.register(auditPlugin);
  await app.register(openapiPlugin, { publicUrl: config.publicUrl });

  for (const area of AREAS) {
    await app.register(area.plugin, {
      config,
      ...(opts.registry ? { registry: opts.registry } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.resolver ? { resolver: opts.resolver } : {}),
    });
  }
  return app;
}
