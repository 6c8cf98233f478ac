// R-DOM-6: abuse complaints. (Being built: see issue 5.)
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

export interface AbuseRouteOptions {
  responseHours: number;
}

export const abuseRoutes: FastifyPluginAsyncTypebox<AbuseRouteOptions> = async () => {};
