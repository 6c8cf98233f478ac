// hardening-2 / R-SEC-1 / R-SEC-8: every operation of the OpenAPI document, called with every role
// and with an API key of each single scope, answers as the permission matrix says (allowed, 403 or
// 404). One app; the users that log in are created and logged in once; everything a call could
// destroy (a key, a session, a victim user, the caller itself) is minted fresh in the database for it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import type { App } from '../../../src/app.js';
import { eq } from 'drizzle-orm';
import { apiKeys, events, licenseMultiUseCharges, sessions, users } from '../../../src/db/schema/index.js';
import { newApiKey, newSessionToken } from '../../../src/lib/tokens.js';
import {
  OPERATION_PERMISSIONS,
  operationRule,
  renderPermissionTable,
  type OperationRule,
} from '../../../src/modules/accounts/operation-permissions.js';
import { hashPassword } from '../../../src/modules/accounts/passwords.js';
import {
  mayAssignRole,
  mayGrantRole,
  OPERATOR_PERMISSIONS,
  RESELLER_PERMISSIONS,
  RESELLER_ROLES,
  ROLE_PERMISSIONS,
  type Permission,
  type Role,
} from '../../../src/modules/accounts/permissions.js';
import { buildTestApp } from '../../helpers/app.js';
import { smtpReceiver } from '../../helpers/smtp.js';
import { CUSTOMER, credit, registered } from '../../helpers/domains.js';
import { addUser, apiKey, bearer, loginAs, operator, reseller, STRONG_PASSWORD } from '../../helpers/fixtures.js';
import { deliveriesOf } from '../../helpers/webhooks.js';

/** A public address written as a literal: creating the endpoint resolves no name. */
const MATRIX_WEBHOOK_URL = 'https://93.184.215.14/matrix-hook';
const MATRIX_LICENSE_ADDRESS = '185.10.20.30';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Caller {
  label: string;
  role: Role;
  userId: string;
  accountId: string | null;
  token: string;
  /** What it holds: the role's permissions, or the key's one scope (its user is an owner, or the operator). */
  holds: ReadonlySet<Permission>;
  scope?: Permission;
}

/** The users a call acts on: yourself, an owner, or a read_only user of the same account. */
type Target = 'self' | 'owner' | 'read_only';

type Outcome = 'allowed' | 'denied' | 'not_found';

interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  payload?: unknown;
}

/**
 * How to call an operation: its URL with real ids, a body, and whether it acts on a user. `fresh`:
 * the caller holds the operation's permission, so the call may consume what it names (a key, a
 * session, a user); a caller refused at the door gets shared objects, which saves the minting.
 */
interface Case {
  call: (c: Caller, target: Target, fresh: boolean) => Promise<Call> | Call;
  /** Acts on one user (path id of a user, or of their key or session): called for each target. */
  targeted?: true;
  /** The call would destroy the caller's own credential: made by a fresh twin of the caller. */
  twin?: (target: Target) => boolean;
}

/** The outcome the matrix promises, worked out from the rule and the role rules (mayAssignRole, mayGrantRole). */
function promised(rule: OperationRule, operationId: string, c: Caller, target: Target): Outcome | 'public' {
  if (rule.permission === 'public') return 'public';
  if (!c.holds.has(rule.permission)) return 'denied';
  // Creating a user grants a role: the caller must hold all of its permissions (the case makes a read_only).
  if (operationId === 'createUser' && !mayGrantRole({ role: c.role, permissions: c.holds }, 'read_only'))
    return 'denied';
  if (target === 'self') return 'allowed';
  // The targets are a reseller's users: to an operator, objects of the other side (R-SEC-6).
  if (c.role === 'operator') return 'not_found';
  const subject = rule.subject;
  // Sessions are only looked up among the caller's own: another user's is not found.
  if (subject === 'self') return operationId === 'revokeSession' ? 'not_found' : 'denied';
  if (!subject) return 'allowed';
  if (!c.holds.has(subject.others)) return 'denied';
  // Changing another user's credentials takes all that granting their role takes (a key: its scopes).
  const grants = subject.others.endsWith(':write');
  const holder = { role: c.role, permissions: c.holds };
  if (subject.credentials && !(grants ? mayGrantRole(holder, target) : mayAssignRole(c.role, target))) return 'denied';
  return 'allowed';
}

// Answers that mean the harness broke (a credential it spoiled, a limit it hit), not a matrix outcome.
const BROKEN_CODES = new Set([
  'authentication_required',
  'invalid_credentials',
  'credential_revoked',
  'token_expired',
  'ip_not_allowed',
  'account_suspended',
  'account_terminated',
  'api_suspended',
  'two_factor_enrolment_required',
  'route_not_found',
  'rate_limited',
  'too_many_concurrent_requests',
  'repeated_failed_command',
]);

function classify(status: number, code: string | undefined): Outcome | `broken: ${string}` {
  if (status >= 500 || (code && BROKEN_CODES.has(code))) return `broken: ${status} ${code}`;
  if (status === 404) return 'not_found';
  if (status === 403 && (code === 'permission_denied' || code === 'role_not_assignable')) return 'denied';
  return 'allowed';
}

// One app for the file. The guard would refuse the same failing command from the next caller, and
// one account makes thousands of calls here: neither is under test.
// E-mail on (a real SMTP server on loopback): a transfer needs it to reach the owner (R-DOM-3).
const smtp = await smtpReceiver(t);
const { app } = await buildTestApp(t, {
  env: {
    REPEATED_FAILURE_WINDOW_S: '0',
    MAX_IN_FLIGHT_PER_ACCOUNT: '10000',
    SMTP_URL: smtp.url,
    PUBLIC_URL: 'https://api.reseller.test',
  },
});
type Doc = {
  paths: Record<
    string,
    Record<
      string,
      {
        operationId: string;
        description?: string;
        security?: Record<string, string[]>[];
        'x-permission'?: string;
        'x-roles'?: string[];
      }
    >
  >;
};
const doc = app.swagger() as unknown as Doc;

t.test(
  'hardening-2 / R-SEC-1 / R-SEC-8: every operation x every role and every single-scope key answers as the permission matrix says',
  async (t) => {
    const fx = await fixtures(app);
    const cases = buildCases(app, fx);

    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    t.ok(operations.length >= 80, `${operations.length} operations in the document`);
    t.same(
      operations.filter(({ op }) => !cases[op.operationId]).map(({ op }) => op.operationId),
      [],
      'the test knows how to call every operation of the document',
    );

    let calls = 0;
    for (const { op } of operations) {
      const rule = operationRule(op.operationId)!;
      const kase = cases[op.operationId];
      if (!kase) continue;
      const wrong: string[] = [];
      for (const target of kase.targeted ? (['self', 'owner', 'read_only'] as const) : (['self'] as const)) {
        await Promise.all(
          fx.callers.map(async (caller) => {
            const fresh = rule.permission === 'public' || caller.holds.has(rule.permission);
            const c = fresh && kase.twin?.(target) ? await fx.twin(caller) : caller;
            const call = await kase.call(c, target, fresh);
            const res = await app.inject({
              method: call.method,
              url: call.url,
              headers: bearer(c.token),
              ...(call.payload !== undefined ? { payload: call.payload as object } : {}),
            });
            calls++;
            const code = String(res.headers['content-type'] ?? '').startsWith('application/problem+json')
              ? res.json<{ code?: string }>().code
              : undefined;
            const got = classify(res.statusCode, code);
            const want = promised(rule, op.operationId, c, target);
            const ok = want === 'public' ? got === 'allowed' || got === 'not_found' : got === want;
            if (!ok)
              wrong.push(
                `${caller.label} on ${target}: ${call.method} ${call.url} -> ${res.statusCode} ${code ?? ''} (${got}), matrix says ${want}`,
              );
          }),
        );
      }
      t.same(wrong, [], `${op.operationId}: every caller gets what the matrix says`);
    }
    t.comment(`${calls} calls`);
  },
);

t.test("hardening-2: the OpenAPI document shows each operation's permission, as scopes and x-permission", async (t) => {
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops)) {
      const rule = operationRule(op.operationId);
      if (!rule) {
        t.fail(`${op.operationId} is not in OPERATION_PERMISSIONS`);
        continue;
      }
      t.equal(op['x-permission'], rule.permission, `${op.operationId}: x-permission`);
      if (rule.permission === 'public') {
        t.same(op.security, [], `${op.operationId}: public`);
        continue;
      }
      t.same(
        op.security,
        [{ bearerAuth: [rule.permission] }, { hmacSignature: [rule.permission] }],
        `${op.operationId}: the scope in the security requirement`,
      );
      const roles = (Object.keys(ROLE_PERMISSIONS) as Role[]).filter((r) =>
        ROLE_PERMISSIONS[r].has(rule.permission as Permission),
      );
      t.same([...(op['x-roles'] ?? [])].sort(), roles.sort(), `${op.operationId}: x-roles`);
      t.match(
        op.description,
        new RegExp(`Needs the \`${rule.permission}\` permission`),
        `${op.operationId}: said in the description`,
      );
    }
  }
  t.same(
    Object.keys(OPERATION_PERMISSIONS).filter(
      (id) => !Object.values(doc.paths).some((ops) => Object.values(ops).some((o) => o.operationId === id)),
    ),
    [],
    'no stale rows in the table',
  );
});

t.test('hardening-2: the README shows the permission matrix generated from the table', async (t) => {
  const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ operationId: op.operationId, method: method.toUpperCase(), path })),
  );
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const block = /<!-- permission-matrix:start[^>]*-->\n([\s\S]*?)\n<!-- permission-matrix:end -->/.exec(readme)?.[1];
  t.equal(
    block,
    renderPermissionTable(routes),
    'README.md holds the table of OPERATION_PERMISSIONS (npm run permissions:readme rewrites it)',
  );
});

// ---- fixtures ---------------------------------------------------------------------------------

async function fixtures(app: App) {
  const op = await operator(app);
  // Limits are not under test: one account makes thousands of calls here.
  for (const scope of ['credential', 'account', 'address']) {
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/admin/fair-use/limits/${scope}`,
      headers: bearer(op.token),
      payload: { capacity: 1_000_000, refill_per_minute: 1_000_000 },
    });
    if (res.statusCode !== 200) throw new Error(`limits: ${res.statusCode} ${res.body}`);
  }
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  await credit(app, op.token, a.accountId, 10_000_000);
  await credit(app, op.token, b.accountId, 10_000_000);
  const contactA = (
    await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(a.token), payload: CUSTOMER })
  ).json().handle as string;
  const contactB = (
    await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(b.token), payload: CUSTOMER })
  ).json().handle as string;
  const domain = (await registered(app, { ...a, contact: contactA }, 'matrix-home.com')).name;
  // A's webhook endpoint; a public IP literal, so no name is resolved.
  const webhook = await app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: bearer(a.token),
    payload: { url: MATRIX_WEBHOOK_URL },
  });
  if (webhook.statusCode !== 201) throw new Error(`webhook: ${webhook.statusCode} ${webhook.body}`);
  // B's domain, unlocked, with a transfer to A pending: the transfer routes have a real id.
  const away = (await registered(app, { ...b, contact: contactB }, 'matrix-away.com')).name;
  await app.inject({ method: 'POST', url: `/v1/domains/${away}/unlock`, headers: bearer(b.token) });
  const authCode = (
    await app.inject({ method: 'GET', url: `/v1/domains/${away}/auth-code`, headers: bearer(b.token) })
  ).json().auth_code as string;
  const transfer = await app.inject({
    method: 'POST',
    url: '/v1/domain-transfers',
    headers: bearer(a.token),
    payload: { name: away, auth_code: authCode, contacts: { owner: contactA, admin: contactA, tech: contactA } },
  });
  if (transfer.statusCode !== 201) throw new Error(`transfer: ${transfer.statusCode} ${transfer.body}`);
  const complaint = await app.inject({
    method: 'POST',
    url: '/v1/admin/abuse-complaints',
    headers: bearer(op.token),
    payload: { domain, category: 'spam', description: 'matrix', reporter_email: 'reporter@example.test' },
  });
  if (complaint.statusCode !== 201) throw new Error(`complaint: ${complaint.statusCode} ${complaint.body}`);
  await app.incidents.record({ accountId: b.accountId, type: 'abuse_unanswered', dedupeKey: 'matrix', evidence: {} });
  const incidents = (
    await app.inject({ method: 'GET', url: '/v1/admin/fair-use/incidents', headers: bearer(op.token) })
  ).json();
  const ladder = (
    await app.inject({ method: 'GET', url: '/v1/admin/fair-use/ladder', headers: bearer(op.token) })
  ).json();
  // A's events fanned out: the webhook (every type) has deliveries, for the delivery-log routes.
  await app.eventFanout.run();
  const webhookDelivery = (await deliveriesOf(app, webhook.json<{ id: string }>().id))[0]!.id;
  // A's server with a Plesk license on it, and a multi-use charge of that license to waive.
  const server = await app.inject({
    method: 'POST',
    url: '/v1/servers',
    headers: bearer(a.token),
    payload: { name: 'matrix', addresses: [MATRIX_LICENSE_ADDRESS], provider: 'own' },
  });
  if (server.statusCode !== 201) throw new Error(`server: ${server.statusCode} ${server.body}`);
  const license = await app.inject({
    method: 'POST',
    url: '/v1/licenses/plesk',
    headers: bearer(a.token),
    payload: {
      product: 'PLESK-12-WEB-ADMIN',
      period_months: 1,
      server_id: server.json().id,
      address: MATRIX_LICENSE_ADDRESS,
      accept_eula: { version: '2024-01' },
    },
  });
  if (license.statusCode !== 201) throw new Error(`license: ${license.statusCode} ${license.body}`);
  const licenseId = license.json().license.id as string;
  const spamDomain = await app.inject({
    method: 'POST',
    url: '/v1/spam-filter/domains',
    headers: bearer(a.token),
    payload: { name: 'matrix-spam.test', destinations: [{ host: 'mx.matrix.test', port: 25 }], products: ['incoming'] },
  });
  if (spamDomain.statusCode !== 201) throw new Error(`spam filter: ${spamDomain.statusCode} ${spamDomain.body}`);
  const hosting = await app.inject({
    method: 'POST',
    url: '/v1/hosting/subscriptions',
    headers: bearer(a.token),
    payload: { plan_id: 'reseller-start', term_months: 1 },
  });
  if (hosting.statusCode !== 201) throw new Error(`hosting: ${hosting.statusCode} ${hosting.body}`);
  const subscriptionId = hosting.json().subscription.id as string;
  const hostingCustomer = await app.inject({
    method: 'POST',
    url: `/v1/hosting/subscriptions/${subscriptionId}/customers`,
    headers: bearer(a.token),
    payload: { name: 'matrix', disk_bytes: 1, traffic_bytes: 1, domains: 1, sites: 1, mailboxes: 1, databases: 1 },
  });
  if (hostingCustomer.statusCode !== 201)
    throw new Error(`customer: ${hostingCustomer.statusCode} ${hostingCustomer.body}`);
  const hostingAddon = await app.inject({
    method: 'POST',
    url: `/v1/hosting/subscriptions/${subscriptionId}/addons`,
    headers: bearer(a.token),
    payload: { product: 'whmcs' },
  });
  if (hostingAddon.statusCode !== 201) throw new Error(`addon: ${hostingAddon.statusCode} ${hostingAddon.body}`);
  const openTicket = async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: bearer(a.token),
      payload: {
        subject: 'Matrix',
        description: 'A ticket the matrix acts on',
        concerns: { type: 'product', ref: 'domains' },
        attachments: [{ filename: 'a.txt', content_base64: 'aGVsbG8K' }],
      },
    });
    if (res.statusCode !== 201) throw new Error(`ticket: ${res.statusCode} ${res.body}`);
    return res.json().id as string;
  };
  const ticketId = await openTicket();
  const ticketAttachmentId = (
    await app.inject({ method: 'GET', url: `/v1/tickets/${ticketId}`, headers: bearer(a.token) })
  ).json().messages[0].attachments[0].id as string;
  const [licenseCharge] = await app.db
    .insert(licenseMultiUseCharges)
    .values({
      licenseId,
      accountId: a.accountId,
      address: '185.10.20.99',
      periodStart: new Date(),
      periodEnd: new Date(Date.now() + 30 * 86_400_000),
      amount: 1_090,
      currency: 'EUR',
      status: 'unpaid',
    })
    .returning();

  // Every role logs in once (argon2 once per user); every scope has a key of the owner's.
  const callers: Caller[] = [
    {
      label: 'owner',
      role: 'owner',
      userId: a.ownerId,
      accountId: a.accountId,
      token: a.token,
      holds: ROLE_PERMISSIONS.owner,
    },
  ];
  for (const role of RESELLER_ROLES.filter((r) => r !== 'owner')) {
    const u = await addUser(app, a.token, role);
    callers.push({
      label: role,
      role,
      userId: u.id,
      accountId: a.accountId,
      token: (await loginAs(app, u.username)).token,
      holds: ROLE_PERMISSIONS[role],
    });
  }
  callers.push({
    label: 'operator',
    role: 'operator',
    userId: op.userId,
    accountId: null,
    token: op.token,
    holds: ROLE_PERMISSIONS.operator,
  });
  // An operator's keys, one scope each (an MTA's key holds inbound_email:write alone).
  for (const scope of OPERATOR_PERMISSIONS) {
    const k = await apiKey(app, op.token, [scope]);
    callers.push({
      label: `operator key[${scope}]`,
      role: 'operator',
      userId: op.userId,
      accountId: null,
      token: k.key,
      holds: new Set([scope]),
      scope,
    });
  }
  for (const scope of RESELLER_PERMISSIONS) {
    const k = await apiKey(app, a.token, [scope]);
    callers.push({
      label: `key[${scope}]`,
      role: 'owner',
      userId: a.ownerId,
      accountId: a.accountId,
      token: k.key,
      holds: new Set([scope]),
      scope,
    });
  }

  // Users, sessions and keys minted straight into the database: one argon2 hash for all of them.
  const passwordHash = await hashPassword(STRONG_PASSWORD);
  let seq = 0;
  async function mintUser(role: Role, accountId: string | null): Promise<string> {
    const username = `matrix${process.pid}x${++seq}`;
    const [row] = await app.db
      .insert(users)
      .values({ accountId, username, email: `${username}@hosting.test`, name: username, role, passwordHash })
      .returning({ id: users.id });
    return row!.id;
  }
  async function mintSession(userId: string): Promise<{ id: string; token: string }> {
    const token = newSessionToken();
    const [row] = await app.db
      .insert(sessions)
      .values({
        userId,
        tokenHash: sha256(token),
        expiresAt: new Date(Date.now() + 3_600_000),
        createdAddress: '127.0.0.1',
      })
      .returning({ id: sessions.id });
    return { id: row!.id, token };
  }
  async function mintKey(userId: string, scopes: Permission[]): Promise<{ id: string; key: string }> {
    const fresh = newApiKey();
    const [row] = await app.db
      .insert(apiKeys)
      .values({
        keyId: fresh.keyId,
        userId,
        name: 'matrix',
        secretHash: sha256(fresh.key),
        secretSealed: app.secretBox.seal(fresh.secret),
        scopes,
      })
      .returning({ id: apiKeys.id });
    return { id: row!.id, key: fresh.key };
  }
  /** A caller just like `c` (same role, or a key with the same scope) that a call may destroy. */
  async function twin(c: Caller): Promise<Caller> {
    const userId = await mintUser(c.role, c.accountId);
    if (c.scope) return { ...c, label: `${c.label} (twin)`, userId, token: (await mintKey(userId, [c.scope])).key };
    return { ...c, label: `${c.label} (twin)`, userId, token: (await mintSession(userId)).token };
  }
  const victims: Record<Exclude<Target, 'self'>, string> = {
    owner: await mintUser('owner', a.accountId),
    read_only: await mintUser('read_only', a.accountId),
  };
  const userOf = (c: Caller, target: Target) => (target === 'self' ? c.userId : victims[target]);
  const shared = new Map<string, Promise<{ id: string }>>();
  const sharedOr = (fresh: boolean, key: string, make: () => Promise<{ id: string }>) => {
    if (fresh) return make();
    if (!shared.has(key)) shared.set(key, make());
    return shared.get(key)!;
  };
  /** A session of the target user to act on: fresh when the call may revoke it. */
  const sessionToActOn = async (c: Caller, target: Target, fresh: boolean) =>
    (await sharedOr(fresh, `s:${userOf(c, target)}`, () => mintSession(userOf(c, target)))).id;
  /**
   * A key of the target user to act on: fresh when the call may rotate or revoke it. A key caller's
   * holds its one scope, no more than the caller (a key acts only on such keys: R-SEC-8).
   */
  const keyToActOn = async (c: Caller, target: Target, fresh: boolean) => {
    const scopes: Permission[] = [c.scope ?? 'domains:read'];
    return (await sharedOr(fresh, `k:${userOf(c, target)}:${scopes[0]}`, () => mintKey(userOf(c, target), scopes))).id;
  };
  /** Another user to disable: fresh when the call may disable it. */
  const userToDisable = (target: Exclude<Target, 'self'>, fresh: boolean) =>
    fresh ? mintUser(target, a.accountId) : Promise.resolve(victims[target]);

  return {
    op,
    a,
    b,
    callers,
    twin,
    userOf,
    sessionToActOn,
    keyToActOn,
    userToDisable,
    contactA,
    domain,
    away,
    transferId: transfer.json().transfer.id as string,
    webhookId: webhook.json().id as string,
    complaintId: complaint.json().id as string,
    incidentId: incidents.data[0].id as string,
    // A's first event (its credit): read from the table, the feed may lag behind other test files.
    eventId: (await app.db.select({ id: events.id }).from(events).where(eq(events.accountId, a.accountId)).limit(1))[0]!
      .id,
    ladder,
    webhookDelivery,
    serverId: server.json().id as string,
    licenseId,
    licenseChargeId: licenseCharge!.id,
    subscriptionId,
    customerId: hostingCustomer.json().id as string,
    addonId: hostingAddon.json().addon.id as string,
    ticketId,
    ticketAttachmentId,
    openTicket,
  };
}

type Fixtures = Awaited<ReturnType<typeof fixtures>>;

function buildCases(app: App, fx: Fixtures): Record<string, Case> {
  let n = 0;
  const next = () => `${process.pid}x${++n}`;
  const { a, b, domain } = fx;
  const get = (url: string): Case => ({ call: () => ({ method: 'GET', url }) });
  /** A cost or guard exemption of an operation id of its own, set by the operator, for one call to remove. */
  const ownRule = async (kind: 'costs' | 'guard-exemptions', payload: object) => {
    const operationId = `matrixOp${n++}`;
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/admin/fair-use/${kind}/${operationId}`,
      headers: bearer(fx.op.token),
      payload,
    });
    if (res.statusCode !== 200) throw new Error(`setting ${kind}/${operationId}: ${res.statusCode} ${res.body}`);
    return operationId;
  };
  const freshWebhook = async () =>
    (
      await app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(a.token),
        payload: { url: MATRIX_WEBHOOK_URL },
      })
    ).json().id as string;
  const freshContact = async () =>
    (await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(a.token), payload: CUSTOMER })).json()
      .handle as string;
  return {
    getOpenApiDocument: get('/openapi.json'),
    getHealth: get('/healthz'),
    getReadiness: get('/readyz'),
    // A real login would cost argon2 per call; the route is public, which is what is checked.
    login: { call: () => ({ method: 'POST', url: '/v1/auth/login', payload: {} }) },
    logout: { call: () => ({ method: 'POST', url: '/v1/auth/logout' }), twin: () => true },
    listSessions: get('/v1/auth/sessions'),
    revokeSession: {
      targeted: true,
      call: async (c, target, fresh) => ({
        method: 'DELETE',
        url: `/v1/auth/sessions/${await fx.sessionToActOn(c, target, fresh)}`,
      }),
    },
    getAccount: get('/v1/account'),
    updateAccount: { call: () => ({ method: 'PATCH', url: '/v1/account', payload: { address: 'Matrix street 1' } }) },
    getAccountIpAllowlist: get('/v1/account/ip-allowlist'),
    setAccountIpAllowlist: {
      call: () => ({ method: 'PUT', url: '/v1/account/ip-allowlist', payload: { entries: [] } }),
    },
    listUsers: get('/v1/users'),
    // A weak password: refused after the role checks, before anything is hashed or stored.
    createUser: {
      call: () => ({
        method: 'POST',
        url: '/v1/users',
        payload: {
          username: `new${next()}`,
          email: 'new@hosting.test',
          name: 'New',
          role: 'read_only',
          password: 'short',
        },
      }),
    },
    getUser: { targeted: true, call: (c, target) => ({ method: 'GET', url: `/v1/users/${fx.userOf(c, target)}` }) },
    updateUser: {
      targeted: true,
      call: (c, target) => ({
        method: 'PATCH',
        url: `/v1/users/${fx.userOf(c, target)}`,
        payload: { name: 'Renamed' },
      }),
    },
    disableUser: {
      targeted: true,
      twin: (target) => target === 'self',
      call: async (c, target, fresh) => ({
        method: 'DELETE',
        url: `/v1/users/${target === 'self' ? c.userId : await fx.userToDisable(target, fresh)}`,
      }),
    },
    // Yourself without the current password (422), another user with a weak one (422): nothing changes.
    setUserPassword: {
      targeted: true,
      call: (c, target) => ({
        method: 'PUT',
        url: `/v1/users/${fx.userOf(c, target)}/password`,
        payload: { new_password: 'short' },
      }),
    },
    startTwoFactorEnrolment: {
      targeted: true,
      call: (c, target) => ({ method: 'POST', url: `/v1/users/${fx.userOf(c, target)}/two-factor` }),
    },
    confirmTwoFactor: {
      targeted: true,
      call: (c, target) => ({
        method: 'POST',
        url: `/v1/users/${fx.userOf(c, target)}/two-factor/confirm`,
        payload: { code: '000000' },
      }),
    },
    disableTwoFactor: {
      targeted: true,
      call: (c, target) => ({ method: 'DELETE', url: `/v1/users/${fx.userOf(c, target)}/two-factor`, payload: {} }),
    },
    listApiKeys: get('/v1/api-keys'),
    createApiKey: {
      call: () => ({ method: 'POST', url: '/v1/api-keys', payload: { name: 'matrix', scopes: ['domains:read'] } }),
    },
    getApiKey: {
      targeted: true,
      call: async (c, target) => ({ method: 'GET', url: `/v1/api-keys/${await fx.keyToActOn(c, target, false)}` }),
    },
    revokeApiKey: {
      targeted: true,
      call: async (c, target, fresh) => ({
        method: 'DELETE',
        url: `/v1/api-keys/${await fx.keyToActOn(c, target, fresh)}`,
      }),
    },
    rotateApiKey: {
      targeted: true,
      call: async (c, target, fresh) => ({
        method: 'POST',
        url: `/v1/api-keys/${await fx.keyToActOn(c, target, fresh)}/rotate`,
      }),
    },
    listAuditEvents: get('/v1/audit-events'),
    getBalance: get('/v1/billing/balance'),
    listTransactions: get('/v1/billing/transactions'),
    listEvents: get('/v1/events'),
    getEvent: get(`/v1/events/${fx.eventId}`),
    listEventTypes: get('/v1/event-types'),
    listNotificationRecipients: get('/v1/notification-recipients'),
    setNotificationRecipients: {
      call: () => ({
        method: 'PUT',
        url: '/v1/notification-recipients/domains',
        payload: { user_ids: [], addresses: [] },
      }),
    },
    // A loopback URL: refused with unsafe_webhook_url after the permission check, nothing created.
    createWebhook: {
      call: () => ({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://127.0.0.1/matrix' } }),
    },
    listWebhooks: get('/v1/webhooks'),
    getWebhook: get(`/v1/webhooks/${fx.webhookId}`),
    updateWebhook: {
      call: () => ({ method: 'PATCH', url: `/v1/webhooks/${fx.webhookId}`, payload: { description: 'matrix' } }),
    },
    deleteWebhook: {
      call: async (_c, _target, fresh) => ({
        method: 'DELETE',
        url: `/v1/webhooks/${fresh ? await freshWebhook() : fx.webhookId}`,
      }),
    },
    rotateWebhookSecret: {
      call: () => ({ method: 'POST', url: `/v1/webhooks/${fx.webhookId}/rotate-secret`, payload: {} }),
    },
    adminListWebhooks: get('/v1/admin/webhooks'),
    adminDisableWebhook: {
      call: () => ({
        method: 'POST',
        url: `/v1/admin/webhooks/${fx.webhookId}/disable`,
        payload: { reason: 'matrix' },
      }),
    },
    adminEnableWebhook: { call: () => ({ method: 'POST', url: `/v1/admin/webhooks/${fx.webhookId}/enable` }) },
    listWebhookDeliveries: get(`/v1/webhooks/${fx.webhookId}/deliveries`),
    getWebhookDelivery: get(`/v1/webhooks/${fx.webhookId}/deliveries/${fx.webhookDelivery}`),
    // Makes the delivery due again (jobs are off here: nothing is sent).
    retryWebhookDelivery: {
      call: () => ({ method: 'POST', url: `/v1/webhooks/${fx.webhookId}/deliveries/${fx.webhookDelivery}/retry` }),
    },
    replayWebhookEvents: {
      call: () => ({
        method: 'POST',
        url: `/v1/webhooks/${fx.webhookId}/replay`,
        payload: { since: new Date(Date.now() - 60_000).toISOString() },
      }),
    },
    adminCreateAccount: {
      call: () => ({
        method: 'POST',
        url: '/v1/admin/accounts',
        payload: {
          name: `Matrix ${next()}`,
          company_name: 'Matrix GmbH',
          contact_email: 'billing@matrix.test',
          contact_phone: '+49.3012345678',
          country: 'DE',
          address: 'Hauptstr. 1',
          currency: 'EUR',
          owner: { username: `mo${next()}`, email: 'mo@matrix.test', name: 'MO', password: 'short' },
        },
      }),
    },
    adminListAccounts: get('/v1/admin/accounts'),
    adminGetAccount: get(`/v1/admin/accounts/${b.accountId}`),
    adminUpdateAccount: {
      call: () => ({
        method: 'PATCH',
        url: `/v1/admin/accounts/${b.accountId}`,
        payload: { address: 'Matrix street 2' },
      }),
    },
    adminSuspendAccount: {
      call: () => ({ method: 'POST', url: `/v1/admin/accounts/${b.accountId}/suspend`, payload: { reason: 'matrix' } }),
    },
    adminResumeAccount: { call: () => ({ method: 'POST', url: `/v1/admin/accounts/${b.accountId}/resume` }) },
    adminSetAccountIpAllowlist: {
      call: () => ({ method: 'PUT', url: `/v1/admin/accounts/${b.accountId}/ip-allowlist`, payload: { entries: [] } }),
    },
    adminCreditAccount: {
      call: () => ({
        method: 'POST',
        url: `/v1/admin/accounts/${b.accountId}/credit`,
        payload: { amount: { amount: 1, currency: 'EUR' }, reason: 'matrix' },
      }),
    },
    getFairUse: get('/v1/fair-use'),
    adminGetFairUseLimits: get('/v1/admin/fair-use/limits'),
    adminSetFairUseLimit: {
      call: () => ({
        method: 'PUT',
        url: '/v1/admin/fair-use/limits/credential',
        payload: { capacity: 1_000_000, refill_per_minute: 1_000_000 },
      }),
    },
    adminSetOperationCost: {
      call: () => ({ method: 'PUT', url: '/v1/admin/fair-use/costs/getTld', payload: { cost: 1 } }),
    },
    // Callers that may remove a cost or an exemption each remove one of their own: two operators'
    // calls run at the same moment, and the second removal of one object is a 404.
    adminResetOperationCost: {
      call: async (_c, _t, fresh) => ({
        method: 'DELETE',
        url: `/v1/admin/fair-use/costs/${fresh ? await ownRule('costs', { cost: 2 }) : 'getTld'}`,
      }),
    },
    adminListGuardExemptions: get('/v1/admin/fair-use/guard-exemptions'),
    adminSetGuardExemption: {
      call: () => ({ method: 'PUT', url: '/v1/admin/fair-use/guard-exemptions/getTld', payload: { reason: 'matrix' } }),
    },
    adminRemoveGuardExemption: {
      call: async (_c, _t, fresh) => ({
        method: 'DELETE',
        url: `/v1/admin/fair-use/guard-exemptions/${fresh ? await ownRule('guard-exemptions', { reason: 'matrix' }) : 'getTld'}`,
      }),
    },
    listFairUseIncidents: get('/v1/fair-use/incidents'),
    createBulkNotice: {
      call: () => ({
        method: 'POST',
        url: '/v1/fair-use/bulk-notices',
        payload: { date: new Date().toISOString().slice(0, 10), expected_count: 1, description: 'matrix' },
      }),
    },
    listBulkNotices: get('/v1/fair-use/bulk-notices'),
    adminListFairUseIncidents: get('/v1/admin/fair-use/incidents'),
    adminUpdateFairUseIncident: {
      call: () => ({
        method: 'PATCH',
        url: `/v1/admin/fair-use/incidents/${fx.incidentId}`,
        payload: { annotation: 'matrix' },
      }),
    },
    adminLiftApiSuspension: {
      call: () => ({ method: 'DELETE', url: `/v1/admin/fair-use/suspensions/${b.accountId}` }),
    },
    adminGetFairUseLadder: get('/v1/admin/fair-use/ladder'),
    adminSetFairUseLadder: {
      call: () => ({ method: 'PUT', url: '/v1/admin/fair-use/ladder', payload: { steps: fx.ladder.steps } }),
    },
    listTlds: get('/v1/tlds'),
    getTld: get('/v1/tlds/com'),
    adminListTlds: get('/v1/admin/tlds'),
    // The catalogue is not under test: an incomplete body is refused after the permission check.
    adminSetTld: { call: () => ({ method: 'PUT', url: '/v1/admin/tlds/com', payload: {} }) },
    adminSetTldLists: { call: () => ({ method: 'PUT', url: '/v1/admin/tlds/com/lists', payload: { unknown: true } }) },
    createContact: { call: () => ({ method: 'POST', url: '/v1/contacts', payload: CUSTOMER }) },
    listContacts: get('/v1/contacts'),
    getContact: get(`/v1/contacts/${fx.contactA}`),
    updateContact: { call: () => ({ method: 'PATCH', url: `/v1/contacts/${fx.contactA}`, payload: { city: 'Brno' } }) },
    deleteContact: {
      call: async (_c, _target, fresh) => ({
        method: 'DELETE',
        url: `/v1/contacts/${fresh ? await freshContact() : fx.contactA}`,
      }),
    },
    checkDomains: {
      call: () => ({ method: 'POST', url: '/v1/domains/check', payload: { names: [`matrix-${next()}.com`] } }),
    },
    // Never checked: refused with availability_check_required, after the permission check.
    registerDomain: {
      call: () => ({
        method: 'POST',
        url: '/v1/domains',
        payload: {
          name: `unchecked-${next()}.com`,
          contacts: { owner: fx.contactA, admin: fx.contactA, tech: fx.contactA },
          nameservers: [],
        },
      }),
    },
    listDomains: get('/v1/domains'),
    getDomain: get(`/v1/domains/${domain}`),
    updateDomain: { call: () => ({ method: 'PATCH', url: `/v1/domains/${domain}`, payload: { autorenew: false } }) },
    // Without confirm=true: 422 confirmation_required, and the domain stays.
    deleteDomain: { call: () => ({ method: 'DELETE', url: `/v1/domains/${domain}`, payload: {} }) },
    renewDomain: { call: () => ({ method: 'POST', url: `/v1/domains/${domain}/renew`, payload: {} }) },
    restoreDomain: { call: () => ({ method: 'POST', url: `/v1/domains/${domain}/restore`, payload: {} }) },
    lockDomain: { call: () => ({ method: 'POST', url: `/v1/domains/${domain}/lock` }) },
    unlockDomain: { call: () => ({ method: 'POST', url: `/v1/domains/${domain}/unlock` }) },
    getDomainAuthCode: get(`/v1/domains/${domain}/auth-code`),
    resetDomainAuthCode: { call: () => ({ method: 'POST', url: `/v1/domains/${domain}/auth-code/reset` }) },
    requestDomainTransfer: {
      call: () => ({
        method: 'POST',
        url: '/v1/domain-transfers',
        payload: { name: fx.away, auth_code: 'wrong', contacts: { owner: fx.contactA } },
      }),
    },
    listDomainTransfers: get('/v1/domain-transfers'),
    getDomainTransfer: get(`/v1/domain-transfers/${fx.transferId}`),
    resendDomainTransferApproval: {
      call: () => ({ method: 'POST', url: `/v1/domain-transfers/${fx.transferId}/resend-approval` }),
    },
    cancelDomainTransfer: { call: () => ({ method: 'POST', url: `/v1/domain-transfers/${fx.transferId}/cancel` }) },
    approveDomainTransfer: {
      call: () => ({
        method: 'POST',
        url: `/v1/domain-transfers/${fx.transferId}/approve`,
        payload: { token: 'not-the-token' },
      }),
    },
    rejectDomainTransfer: {
      call: () => ({
        method: 'POST',
        url: `/v1/domain-transfers/${fx.transferId}/reject`,
        payload: { token: 'not-the-token' },
      }),
    },
    fileAbuseComplaint: {
      call: () => ({
        method: 'POST',
        url: '/v1/abuse-complaints',
        payload: { domain, category: 'spam', description: 'matrix', reporter_email: 'reporter@example.test' },
      }),
    },
    listAbuseComplaints: get('/v1/abuse-complaints'),
    getAbuseComplaint: get(`/v1/abuse-complaints/${fx.complaintId}`),
    respondToAbuseComplaint: {
      call: () => ({
        method: 'POST',
        url: `/v1/abuse-complaints/${fx.complaintId}/responses`,
        payload: { action: 'investigating', message: 'matrix' },
      }),
    },
    adminCreateAbuseComplaint: {
      call: () => ({
        method: 'POST',
        url: '/v1/admin/abuse-complaints',
        payload: { domain, category: 'spam', description: 'matrix', reporter_email: 'reporter@example.test' },
      }),
    },
    adminListAbuseComplaints: get('/v1/admin/abuse-complaints'),
    adminGetAbuseComplaint: get(`/v1/admin/abuse-complaints/${fx.complaintId}`),
    adminCloseAbuseComplaint: {
      call: () => ({
        method: 'POST',
        url: `/v1/admin/abuse-complaints/${fx.complaintId}/close`,
        payload: { note: 'matrix' },
      }),
    },
    createServer: {
      call: () => ({
        method: 'POST',
        url: '/v1/servers',
        payload: { name: `matrix-${next()}`, addresses: ['185.10.21.1'], provider: 'own' },
      }),
    },
    listServers: get('/v1/servers'),
    getServer: get(`/v1/servers/${fx.serverId}`),
    updateServer: {
      call: () => ({ method: 'PATCH', url: `/v1/servers/${fx.serverId}`, payload: { location: next() } }),
    },
    // A live license is on it: 409 server_in_use, and the server stays.
    deleteServer: { call: () => ({ method: 'DELETE', url: `/v1/servers/${fx.serverId}` }) },
    listLicenseProducts: get('/v1/licenses/products'),
    listVendorPolicies: get('/v1/licenses/policies'),
    quotePleskLicense: {
      call: () => ({
        method: 'POST',
        url: '/v1/licenses/plesk/quote',
        payload: { product: 'PLESK-12-WEB-ADMIN', period_months: 1 },
      }),
    },
    // No server: 422 bundling_required, after the permission check.
    orderPleskLicense: {
      call: () => ({
        method: 'POST',
        url: '/v1/licenses/plesk',
        payload: { product: 'PLESK-12-WEB-ADMIN', period_months: 1, accept_eula: { version: '2024-01' } },
      }),
    },
    listPleskLicenses: get('/v1/licenses/plesk'),
    getPleskLicense: get(`/v1/licenses/plesk/${fx.licenseId}`),
    getPleskActivationCode: get(`/v1/licenses/plesk/${fx.licenseId}/activation-code`),
    updatePleskLicense: {
      call: () => ({ method: 'PATCH', url: `/v1/licenses/plesk/${fx.licenseId}`, payload: { autorenew: true } }),
    },
    renewPleskLicense: {
      call: () => ({ method: 'POST', url: `/v1/licenses/plesk/${fx.licenseId}/renew`, payload: {} }),
    },
    suspendPleskLicense: { call: () => ({ method: 'POST', url: `/v1/licenses/plesk/${fx.licenseId}/suspend` }) },
    resumePleskLicense: { call: () => ({ method: 'POST', url: `/v1/licenses/plesk/${fx.licenseId}/resume` }) },
    // Without confirm: 422, and the license stays.
    terminatePleskLicense: {
      call: () => ({ method: 'POST', url: `/v1/licenses/plesk/${fx.licenseId}/terminate`, payload: {} }),
    },
    // Its own address: 409, nothing changes.
    rebindPleskLicense: {
      call: () => ({
        method: 'POST',
        url: `/v1/licenses/plesk/${fx.licenseId}/rebind`,
        payload: { address: MATRIX_LICENSE_ADDRESS },
      }),
    },
    reportPleskLicenseAddresses: {
      call: () => ({
        method: 'POST',
        url: `/v1/licenses/plesk/${fx.licenseId}/ip-reports`,
        payload: { addresses: [MATRIX_LICENSE_ADDRESS] },
      }),
    },
    resolvePleskMultiUse: {
      call: () => ({
        method: 'POST',
        url: `/v1/licenses/plesk/${fx.licenseId}/multi-use/resolve`,
        payload: { other_servers_stopped: true },
      }),
    },
    adminListLicenses: get('/v1/admin/licenses?multi_use=potential'),
    adminImportLicenseReports: {
      call: () => ({
        method: 'POST',
        url: '/v1/admin/licenses/ip-reports',
        payload: { reports: [{ license_id: fx.licenseId, addresses: [MATRIX_LICENSE_ADDRESS] }] },
      }),
    },
    adminClearLicenseMultiUse: {
      call: () => ({
        method: 'POST',
        url: `/v1/admin/licenses/${fx.licenseId}/multi-use/clear`,
        payload: { note: 'matrix' },
      }),
    },
    adminWaiveLicenseCharge: {
      call: () => ({
        method: 'POST',
        url: `/v1/admin/licenses/multi-use-charges/${fx.licenseChargeId}/waive`,
        payload: { note: 'matrix' },
      }),
    },
    adminSetLicenseProduct: {
      call: () => ({
        method: 'PUT',
        url: '/v1/admin/licenses/products/MATRIX-EXTRA',
        payload: { kind: 'extra', name: 'Matrix', active: false, prices: [] },
      }),
    },
    addSpamFilterDomain: {
      call: () => ({
        method: 'POST',
        url: '/v1/spam-filter/domains',
        payload: {
          name: `m${next()}.test`,
          destinations: [{ host: 'mx.matrix.test', port: 25 }],
          products: ['incoming'],
        },
      }),
    },
    listSpamFilterDomains: get('/v1/spam-filter/domains'),
    getSpamFilterDomain: get('/v1/spam-filter/domains/matrix-spam.test'),
    updateSpamFilterDomain: {
      call: () => ({
        method: 'PATCH',
        url: '/v1/spam-filter/domains/matrix-spam.test',
        payload: { products: ['incoming'] },
      }),
    },
    // A caller that may remove one removes a fresh domain of A's; one refused at the door names the shared one.
    removeSpamFilterDomain: {
      call: async (c, _target, fresh) => {
        if (!fresh) return { method: 'DELETE', url: '/v1/spam-filter/domains/matrix-spam.test' };
        const name = `gone-${next()}.test`;
        await app.inject({
          method: 'POST',
          url: '/v1/spam-filter/domains',
          headers: bearer(a.token),
          payload: { name, destinations: [{ host: 'mx.matrix.test', port: 25 }], products: ['incoming'] },
        });
        return { method: 'DELETE', url: `/v1/spam-filter/domains/${name}` };
      },
    },
    adminImportMailboxReport: {
      call: () => ({
        method: 'POST',
        url: '/v1/admin/spam-filter/mailbox-reports',
        payload: { domain: 'matrix-spam.test', recipients: [{ address: 'a@matrix-spam.test' }] },
      }),
    },
    listHostingPlans: get('/v1/plans'),
    listHostingAddonProducts: get('/v1/hosting/addon-products'),
    quoteHostingSubscription: {
      call: () => ({
        method: 'POST',
        url: '/v1/hosting/subscriptions/quote',
        payload: { plan_id: 'reseller-start', term_months: 1 },
      }),
    },
    // No such plan: 422 after the permission check, nothing bought.
    purchaseHostingSubscription: {
      call: () => ({
        method: 'POST',
        url: '/v1/hosting/subscriptions',
        payload: { plan_id: 'no-such-plan', term_months: 1 },
      }),
    },
    listHostingSubscriptions: get('/v1/hosting/subscriptions'),
    getHostingSubscription: get(`/v1/hosting/subscriptions/${fx.subscriptionId}`),
    updateHostingSubscription: {
      call: () => ({
        method: 'PATCH',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}`,
        payload: { autorenew: true },
      }),
    },
    quoteHostingRenewal: {
      call: () => ({ method: 'POST', url: `/v1/hosting/subscriptions/${fx.subscriptionId}/renew/quote` }),
    },
    // max_price 0: 409 price_changed, nothing charged.
    renewHostingSubscription: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/renew`,
        payload: { max_price: { amount: 0, currency: 'EUR' } },
      }),
    },
    // Its own plan: 409 same_plan.
    quoteHostingPlanChange: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/plan/quote`,
        payload: { plan_id: 'reseller-start' },
      }),
    },
    changeHostingPlan: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/plan`,
        payload: { plan_id: 'reseller-start' },
      }),
    },
    getHostingUsage: get(`/v1/hosting/subscriptions/${fx.subscriptionId}/usage`),
    // Measured long ago: kept once, then older than what is kept.
    reportHostingUsage: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/usage`,
        payload: { measured_at: '2020-01-01T00:00:00Z', entries: [{ disk_bytes: 0, traffic_bytes: 0 }] },
      }),
    },
    // More disk than the plan holds: 409 allocation_exceeds_plan, no customer.
    createHostingCustomer: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/customers`,
        payload: {
          name: 'm',
          disk_bytes: 10 ** 15,
          traffic_bytes: 1,
          domains: 1,
          sites: 1,
          mailboxes: 1,
          databases: 1,
        },
      }),
    },
    listHostingCustomers: get(`/v1/hosting/subscriptions/${fx.subscriptionId}/customers`),
    getHostingCustomer: get(`/v1/hosting/subscriptions/${fx.subscriptionId}/customers/${fx.customerId}`),
    // A caller that may remove one removes a fresh customer of A's; one refused at the door names the shared one.
    removeHostingCustomer: {
      call: async (_c, _target, fresh) => {
        const base = `/v1/hosting/subscriptions/${fx.subscriptionId}/customers`;
        if (!fresh) return { method: 'DELETE', url: `${base}/${fx.customerId}` };
        const made = await app.inject({
          method: 'POST',
          url: base,
          headers: bearer(a.token),
          payload: { name: 'gone', disk_bytes: 1, traffic_bytes: 1, domains: 1, sites: 1, mailboxes: 1, databases: 1 },
        });
        return { method: 'DELETE', url: `${base}/${made.json().id}` };
      },
    },
    suspendHostingCustomer: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/customers/${fx.customerId}/suspend`,
      }),
    },
    resumeHostingCustomer: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/customers/${fx.customerId}/resume`,
      }),
    },
    quoteHostingAddon: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/addons/quote`,
        payload: { product: 'whmcs' },
      }),
    },
    // One WHMCS per package: 409 addon_already_active, nothing charged.
    buyHostingAddon: {
      call: () => ({
        method: 'POST',
        url: `/v1/hosting/subscriptions/${fx.subscriptionId}/addons`,
        payload: { product: 'whmcs' },
      }),
    },
    listHostingAddons: get(`/v1/hosting/subscriptions/${fx.subscriptionId}/addons`),
    getHostingAddon: get(`/v1/hosting/subscriptions/${fx.subscriptionId}/addons/${fx.addonId}`),
    // Without confirm: 422, and the add-on stays.
    removeHostingAddon: {
      call: () => ({ method: 'DELETE', url: `/v1/hosting/subscriptions/${fx.subscriptionId}/addons/${fx.addonId}` }),
    },
    adminListHostingPlans: get('/v1/admin/plans'),
    adminSetHostingPlan: {
      call: () => ({
        method: 'PUT',
        url: '/v1/admin/plans/matrix-plan',
        payload: {
          name: 'Matrix',
          active: false,
          limits: {
            disk_bytes: 1,
            traffic_bytes: 1,
            customers: 1,
            domains: 1,
            sites: 1,
            mailboxes: 1,
            mailbox_bytes: 1,
            databases: 1,
          },
          overuse: 'allowed',
          oversell: true,
          thresholds: [],
          prices: [],
        },
      }),
    },
    adminListHostingAddonProducts: get('/v1/admin/addon-products'),
    adminSetHostingAddonProduct: {
      call: () => ({
        method: 'PUT',
        url: '/v1/admin/addon-products/matrix-addon',
        payload: { kind: 'account_block', name: 'Matrix', accounts: 1, active: false, prices: [] },
      }),
    },
    adminSuspendHostingSubscription: {
      call: () => ({ method: 'POST', url: `/v1/admin/hosting/subscriptions/${fx.subscriptionId}/suspend` }),
    },
    adminResumeHostingSubscription: {
      call: () => ({ method: 'POST', url: `/v1/admin/hosting/subscriptions/${fx.subscriptionId}/resume` }),
    },
    // The package already has WHMCS: 409 addon_already_active.
    adminGrantBundledWhmcs: {
      call: () => ({ method: 'POST', url: `/v1/admin/hosting/subscriptions/${fx.subscriptionId}/bundled-whmcs` }),
    },
    listTicketPriorities: get('/v1/ticket-priorities'),
    createTicket: {
      call: () => ({
        method: 'POST',
        url: '/v1/tickets',
        payload: { subject: 'm', description: 'm', concerns: { type: 'product', ref: 'hosting' } },
      }),
    },
    listTickets: get('/v1/tickets'),
    getTicket: get(`/v1/tickets/${fx.ticketId}`),
    addTicketMessage: {
      call: () => ({ method: 'POST', url: `/v1/tickets/${fx.ticketId}/messages`, payload: { body: 'm' } }),
    },
    // Not awaiting information: 409 ticket_state_conflict.
    provideTicketInformation: {
      call: () => ({ method: 'POST', url: `/v1/tickets/${fx.ticketId}/provide-information`, payload: { body: 'm' } }),
    },
    suspendTicket: { call: async () => ({ method: 'POST', url: `/v1/tickets/${await fx.openTicket()}/suspend` }) },
    resumeTicket: { call: () => ({ method: 'POST', url: `/v1/tickets/${fx.ticketId}/resume` }) },
    revokeTicket: { call: async () => ({ method: 'POST', url: `/v1/tickets/${await fx.openTicket()}/revoke` }) },
    objectToTicketClose: {
      call: () => ({ method: 'POST', url: `/v1/tickets/${fx.ticketId}/objection`, payload: { justification: 'm' } }),
    },
    requestTicketPriority: {
      call: () => ({
        method: 'POST',
        url: `/v1/tickets/${fx.ticketId}/priority-request`,
        payload: { priority: 'high', justification: 'm' },
      }),
    },
    getTicketAttachment: get(`/v1/tickets/${fx.ticketId}/attachments/${fx.ticketAttachmentId}`),
    adminTicketQueue: get('/v1/admin/tickets'),
    adminCreateTicket: {
      call: () => ({
        method: 'POST',
        url: '/v1/admin/tickets',
        payload: {
          account_id: a.accountId,
          channel: 'phone',
          subject: 'm',
          description: 'm',
          concerns: { type: 'product', ref: 'domains' },
        },
      }),
    },
    adminTicketSlaReport: get('/v1/admin/tickets/sla-report?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z'),
    // A JSON body where a raw e-mail belongs: 415.
    adminReceiveTicketEmail: {
      call: () => ({ method: 'POST', url: '/v1/admin/tickets/inbound-email', payload: { raw: 'x' } }),
    },
    adminListTicketEmails: get('/v1/admin/tickets/inbound-email'),
    adminGetTicket: get(`/v1/admin/tickets/${fx.ticketId}`),
    adminGetTicketAttachment: get(`/v1/admin/tickets/${fx.ticketId}/attachments/${fx.ticketAttachmentId}`),
    ...Object.fromEntries(
      (
        [
          ['adminAssignTicket', 'assign', { assignee_id: null }],
          ['adminReplyTicket', 'reply', { body: 'm' }],
          ['adminAddTicketNote', 'notes', { body: 'm' }],
          ['adminRequestTicketInformation', 'request-information', { body: 'm' }],
          ['adminSetTicketPriority', 'priority', { priority: 'medium' }],
          ['adminSetTicketProductTeam', 'product-team', { involved: false }],
          ['adminPauseTicketClock', 'pause', { reason: 'vendor_response' }],
          ['adminUnpauseTicketClock', 'unpause', undefined],
          ['adminWaiveTicketDeadline', 'sla-waiver', { reason: 'm' }],
          ['adminSplitTicket', 'split', { message_ids: ['00000000-0000-4000-8000-000000000000'], subject: 'm' }],
        ] as const
      ).map(([operationId, action, payload]) => [
        operationId,
        {
          call: () => ({
            method: 'POST' as const,
            url: `/v1/admin/tickets/${fx.ticketId}/${action}`,
            ...(payload === undefined ? {} : { payload }),
          }),
        },
      ]),
    ),
    adminCloseTicket: {
      call: async () => ({
        method: 'POST',
        url: `/v1/admin/tickets/${await fx.openTicket()}/close`,
        payload: { reason: 'resolved' },
      }),
    },
    adminMergeTickets: {
      call: async () => ({
        method: 'POST',
        url: `/v1/admin/tickets/${await fx.openTicket()}/merge`,
        payload: { ticket_ids: [await fx.openTicket()] },
      }),
    },
    adminListCalendars: get('/v1/admin/calendars'),
    adminGetCalendar: get('/v1/admin/calendars/business'),
    adminSetCalendar: {
      call: () => ({
        method: 'PUT',
        url: `/v1/admin/calendars/matrix-${next()}`,
        payload: { name: 'm', time_zone: 'UTC', week: { '1': [{ start: '09:00', end: '17:00' }] }, holidays: [] },
      }),
    },
    adminRemoveCalendar: {
      call: async () => {
        const id = `gone-${next()}`;
        await app.inject({
          method: 'PUT',
          url: `/v1/admin/calendars/${id}`,
          headers: bearer(fx.op.token),
          payload: { name: 'm', time_zone: 'UTC', week: { '1': [{ start: '09:00', end: '17:00' }] }, holidays: [] },
        });
        return { method: 'DELETE', url: `/v1/admin/calendars/${id}` };
      },
    },
    adminSetTicketPriorityCriteria: {
      call: () => ({
        method: 'PUT',
        url: '/v1/admin/ticket-priorities/low/criteria/other',
        payload: { criteria: ['Anything else'] },
      }),
    },
    adminPublishVendorPolicy: {
      call: () => ({
        method: 'POST',
        url: '/v1/admin/licenses/policies',
        payload: { vendor: 'spamexperts', kind: 'fair_use', version: `m${next()}`, url: 'https://example.com/policy' },
      }),
    },
  };
}
