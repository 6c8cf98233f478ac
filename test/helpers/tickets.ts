// Ticket test helpers (issue 16): an app on an injected clock with an operator and a reseller, and
// the calls the ticket tests make through the HTTP API.
import type { App } from '../../src/app.js';
import { buildTestApp } from './app.js';
import { bearer, operator, reseller, type Reseller } from './fixtures.js';

export type Json = Record<string, any>;

/** The app at `start` (moved with `at`), an operator, a reseller, and the timer job at the clock. */
export async function ticketSetup(t: Parameters<typeof buildTestApp>[0], start: string) {
  let clock = new Date(start);
  const { app } = await buildTestApp(t, { now: () => clock });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  return {
    app,
    op,
    r,
    at: (d: string) => (clock = new Date(d)),
    now: () => clock,
    timers: () => app.jobs.run('ticket-timers', clock),
  };
}

/** One call with a bearer token; throws unless it answers `status`. The JSON answer ({} for 204). */
export async function call(app: App, token: string, method: string, url: string, payload?: unknown, status = 200) {
  const res = await app.inject({
    method: method as 'POST',
    url,
    headers: bearer(token),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  if (res.statusCode !== status) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  const body: Json = res.statusCode === 204 ? {} : res.json();
  return body;
}

/** A ticket the reseller opens about domains (201), with `over` replacing fields of the body. */
export const openTicket = (app: App, r: Reseller, over: Json = {}) =>
  call(
    app,
    r.token,
    'POST',
    '/v1/tickets',
    {
      subject: 'Cannot renew',
      description: 'Renewing example.com fails with an error since this morning; steps: ...',
      concerns: { type: 'product', ref: 'domains' },
      ...over,
    },
    201,
  );

/** An operator's action on a ticket (POST /v1/admin/tickets/{id}/{action}). */
export const adminAction = (app: App, token: string, id: string, action: string, payload: unknown = {}, status = 200) =>
  call(app, token, 'POST', `/v1/admin/tickets/${id}/${action}`, payload, status);
