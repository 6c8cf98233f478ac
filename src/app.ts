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
import { buildValidatorFactory } from './validation.js';
import dbPlugin from './plugins/db.js';
import openapiPlugin from './plugins/openapi.js';
import problemJsonPlugin from './plugins/problem-json.js';
import requestIdPlugin, { genRequestId } from './plugins/request-id.js';
import { healthRoutes } from './modules/health/routes.js';

export interface BuildOptions {
  /** Use this store instead of opening one from the config; the caller closes it. */
  store?: Store;
  /** Log destination (tests read logs back from it). */
  logStream?: DestinationStream;
}

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

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
    // We answer 503 problem+json ourselves while draining (problem-json plugin).
    return503OnClosing: false,
    schemaController: { compilersFactory: { buildValidator: buildValidatorFactory() } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(requestIdPlugin);
  await app.register(problemJsonPlugin);
  await app.register(openapiPlugin, { publicUrl: config.publicUrl });
  await app.register(dbPlugin, { ...config, ...(opts.store ? { store: opts.store } : {}) });

  await app.register(healthRoutes);
  return app;
}
