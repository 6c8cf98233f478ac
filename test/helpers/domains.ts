// Domain test helpers: a funded reseller with a contact, checks, registrations, the balance.
import type { App } from '../../src/app.js';
import { bearer, operator, reseller, type Reseller } from './fixtures.js';

export const CUSTOMER = {
  name: 'Jana Nováková',
  email: 'jana@pekarna.test',
  phone: '+420.601234567',
  country: 'CZ',
  street: ['Vinohradská 12'],
  city: 'Praha',
  postal_code: '120 00',
};

export async function credit(app: App, opToken: string, accountId: string, amount: number, currency = 'EUR') {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/admin/accounts/${accountId}/credit`,
    headers: bearer(opToken),
    payload: { amount: { amount, currency }, reason: 'funds' },
  });
  if (res.statusCode >= 300) throw new Error(`credit: ${res.statusCode} ${res.body}`);
}

export async function fundedReseller(
  app: App,
  opToken: string,
  funds = 100_000,
): Promise<Reseller & { contact: string }> {
  const r = await reseller(app, opToken);
  if (funds) await credit(app, opToken, r.accountId, funds);
  const res = await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(r.token), payload: CUSTOMER });
  if (res.statusCode !== 201) throw new Error(`contact: ${res.statusCode} ${res.body}`);
  return { ...r, contact: res.json().handle as string };
}

export async function domainSetup(app: App, funds = 100_000) {
  const op = await operator(app);
  const r = await fundedReseller(app, op.token, funds);
  return { op, r };
}

export const checkNames = (app: App, r: Reseller, ...names: string[]) =>
  app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(r.token), payload: { names } });

/** Checks and registers `name` (a .com, .net, .org or .io: owner, admin and tech are the one contact). */
export async function registered(
  app: App,
  r: Reseller & { contact: string },
  name: string,
  extra: Record<string, unknown> = {},
) {
  await checkNames(app, r, name);
  const c = r.contact;
  const res = await app.inject({
    method: 'POST',
    url: '/v1/domains',
    headers: bearer(r.token),
    payload: { name, contacts: { owner: c, admin: c, tech: c }, nameservers: [], ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`register ${name}: ${res.statusCode} ${res.body}`);
  return res.json().domain as Record<string, unknown> & { name: string; expires_at: string };
}

export const balanceOf = async (app: App, r: Reseller) =>
  (await app.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(r.token) })).json().balance
    .amount as number;
