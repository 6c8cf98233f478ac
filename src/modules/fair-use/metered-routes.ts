// Which routes fair use meters (idempotency, the repeated-failure guard and bulk counting apply to them).
import type { RouteOptions } from 'fastify';

const COMMANDS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A documented, authenticated route that changes state: what fair use meters. */
export function isCommandRoute(route: RouteOptions, methods: ReadonlySet<string> = COMMANDS): boolean {
  const list = Array.isArray(route.method) ? route.method : [route.method];
  return (
    list.some((m) => methods.has(m)) &&
    route.config?.permission !== 'public' &&
    route.schema !== undefined &&
    !route.schema.hide
  );
}
