// Hook plumbing for plugins: hooks that cost no promise when they have nothing to wait for, and
// route-level hooks added from onRoute. Those run per request after the global hooks
// (authentication) and in the order the plugins were registered: rate limit, idempotency,
// repeated-failure guard, bulk counting. Which routes fair use meters is fair-use/api.ts.
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';

type Done = (err?: Error) => void;
type SendDone = (err: Error | null, payload?: unknown) => void;

/**
 * A request hook that usually has nothing to wait for: `fn` returns undefined when it is done at
 * once (or throws), or a promise when it has work to await. Fastify then runs it with a callback,
 * and the usual case costs no promise and no microtask, which an async hook costs on every request
 * of every route.
 */
export function syncFirst(fn: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> | void) {
  return (req: FastifyRequest, reply: FastifyReply, done: Done): void => {
    let pending: Promise<unknown> | void;
    try {
      pending = fn(req, reply);
    } catch (err) {
      return done(err as Error);
    }
    if (pending)
      pending.then(
        () => done(),
        (err: Error) => done(err),
      );
    else done();
  };
}

/** syncFirst for onSend: `fn` returns undefined (payload unchanged) or a promise of the work to await first. */
export function syncFirstOnSend(
  fn: (req: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown> | void,
) {
  return (req: FastifyRequest, reply: FastifyReply, payload: unknown, done: SendDone): void => {
    let pending: Promise<unknown> | void;
    try {
      pending = fn(req, reply, payload);
    } catch (err) {
      return done(err as Error);
    }
    if (pending)
      pending.then(
        () => done(null, payload),
        (err: Error) => done(err),
      );
    else done(null, payload);
  };
}

export function appendPreValidation(
  route: RouteOptions,
  hook: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> | void,
): void {
  const current = route.preValidation;
  route.preValidation = [...(Array.isArray(current) ? current : current ? [current] : []), syncFirst(hook)];
}
