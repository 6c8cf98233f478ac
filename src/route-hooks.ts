// Route-level hooks for the fair-use chain. Added from onRoute in plugin order, so per request they
// run after the global hooks (authentication) and in the order the plugins were registered:
// rate limit, idempotency, repeated-failure guard, bulk counting.
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';

const COMMANDS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A documented, authenticated route that changes state: what fair use meters. */
export function isCommandRoute(route: RouteOptions, methods: ReadonlySet<string> = COMMANDS): boolean {
  const list = Array.isArray(route.method) ? route.method : [route.method];
  return list.some((m) => methods.has(m)) && route.config?.permission !== 'public' && route.schema !== undefined && !route.schema.hide;
}

export function appendPreValidation(route: RouteOptions, hook: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void {
  const current = route.preValidation;
  route.preValidation = [...(Array.isArray(current) ? current : current ? [current] : []), hook as never];
}
