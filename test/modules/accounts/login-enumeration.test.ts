// hardening-6: login answers tell nothing about which usernames exist or what a user's allowlist is,
// while R-API-5 (lockout per username and per address) keeps working.
import t from 'tap';
import { eq } from 'drizzle-orm';
import { loginNameFailures } from '../../../src/db/schema/index.js';
import { buildTestApp } from '../../helpers/app.js';
import { addUser, operator, reseller, STRONG_PASSWORD } from '../../helpers/fixtures.js';

type App = Awaited<ReturnType<typeof buildTestApp>>['app'];

// One app for the file: each test has its own reseller and usernames.
const env = { LOGIN_MAX_FAILURES_PER_USER: '3', LOGIN_MAX_FAILURES_PER_ADDRESS: '1000', LOGIN_FAILURE_WINDOW_S: '600' };
const built = buildTestApp(t, { env });

const login = (app: App, username: string, password: string, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username, password }, remoteAddress });

/** What a caller sees of a refused login: status, the problem body minus per-request fields, Retry-After present or not. */
async function outcome(app: App, username: string, password: string, remoteAddress = '127.0.0.1') {
  const res = await login(app, username, password, remoteAddress);
  const body = res.json<Record<string, unknown>>();
  delete body.instance;
  delete body.request_id;
  // The remaining seconds may differ by one between two calls.
  if (typeof body.detail === 'string') body.detail = body.detail.replace(/[0-9]+ s\b/, 'N s');
  delete body.retry_after_seconds;
  return { status: res.statusCode, body, retryAfter: res.headers['retry-after'] !== undefined };
}

t.test('hardening-6 / R-API-5: an unknown username is counted and locked exactly like a real one', async (t) => {
  const { app } = await built;
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const unknown = `no-such-${r.ownerUsername}`;
  for (let i = 1; i <= 3; i++) {
    const real = await outcome(app, r.ownerUsername, 'wrong-password-guess');
    const fake = await outcome(app, unknown, 'wrong-password-guess');
    t.equal(real.status, 401, `failure ${i}`);
    t.same(fake, real, `failure ${i}: the same answer for a name nobody has`);
  }
  const realLocked = await outcome(app, r.ownerUsername, STRONG_PASSWORD);
  const fakeLocked = await outcome(app, unknown, 'any-password-at-all');
  t.equal(realLocked.status, 429);
  t.equal(realLocked.body.code, 'login_locked');
  t.ok(realLocked.retryAfter);
  t.same(fakeLocked, realLocked, 'both are locked, with the same answer');
  t.same(await outcome(app, unknown.toUpperCase(), 'x'), realLocked, 'whatever the case of the name');
});

t.test(
  'hardening-6 / R-SEC-4: a login from outside the allowlist answers like a wrong password, and counts as one',
  async (t) => {
    const { app } = await built;
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const tech = await addUser(app, r.token, 'technical', { ip_allowlist: ['192.0.2.0/24'] });
    const wrong = await outcome(app, tech.username, 'wrong-password-guess', '198.51.100.9');
    const right = await outcome(app, tech.username, STRONG_PASSWORD, '198.51.100.9');
    t.equal(wrong.status, 401);
    t.equal(wrong.body.code, 'invalid_credentials');
    t.same(right, wrong, 'the right password from outside tells nothing more');
    t.same(await outcome(app, tech.username, STRONG_PASSWORD, '198.51.100.9'), wrong, 'third attempt');
    t.equal(
      (await outcome(app, tech.username, STRONG_PASSWORD, '192.0.2.5')).status,
      429,
      'three failures, right password or not, lock the name',
    );
  },
);

t.test(
  'hardening-6 / R-API-5: a successful login starts the count again; an old failure no longer counts',
  async (t) => {
    const { app, store } = await built;
    const op = await operator(app);
    const r = await reseller(app, op.token);
    for (let i = 0; i < 2; i++) await login(app, r.ownerUsername, 'wrong-password-guess');
    t.equal((await login(app, r.ownerUsername, STRONG_PASSWORD)).statusCode, 200);
    for (let i = 0; i < 2; i++) t.equal((await login(app, r.ownerUsername, 'wrong-password-guess')).statusCode, 401);
    t.equal(
      (await login(app, r.ownerUsername, STRONG_PASSWORD)).statusCode,
      200,
      'two failures after a success do not lock',
    );

    const nobody = `nobody-${r.ownerUsername}`;
    for (let i = 0; i < 2; i++) await login(app, nobody, 'wrong-password-guess');
    await store.db
      .update(loginNameFailures)
      .set({ lastFailureAt: new Date(Date.now() - 601_000) })
      .where(eq(loginNameFailures.username, nobody));
    t.equal(
      (await login(app, nobody, 'wrong-password-guess')).statusCode,
      401,
      'failures older than the window start the count again',
    );
    t.equal((await login(app, nobody, 'wrong-password-guess')).statusCode, 401);
    t.equal((await login(app, nobody, 'wrong-password-guess')).statusCode, 401, 'third in a row within the window');
    t.equal((await login(app, nobody, 'wrong-password-guess')).statusCode, 429);

    const later = new Date(Date.now() + 3_600_000);
    t.ok(
      (await app.jobs.run('sweep-login-name-failures', later)) >= 1,
      'the sweep deletes spent counts (the lock is over by then)',
    );
    t.same(await store.db.select().from(loginNameFailures).where(eq(loginNameFailures.username, nobody)), []);
    t.equal((await login(app, nobody, 'wrong-password-guess')).statusCode, 401);
  },
);

t.test(
  'R-API-5: a locked username stays locked under any spelling; a spelling with a non-ASCII letter names nobody',
  async (t) => {
    const { app } = await built;
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const user = await addUser(app, r.token, 'technical'); // its name has an "i"
    // U+0130 (capital I with a dot): JavaScript lower-cases it to "i" and a combining dot, PostgreSQL to "i".
    const dotted = user.username.replace('i', '\u0130');
    t.not(dotted, user.username);
    t.equal(
      (await login(app, dotted, STRONG_PASSWORD, '203.0.113.1')).statusCode,
      401,
      'the right password under it: no user',
    );
    for (let i = 0; i < 3; i++) await login(app, user.username, `wrong-guess-${i}`, `203.0.113.${10 + i}`);
    t.equal((await login(app, user.username.toUpperCase(), STRONG_PASSWORD, '203.0.113.20')).statusCode, 429);
    for (const spelling of [dotted, user.username.replace(/i/g, '\u0130'), user.username.replace('i', 'I\u0307')]) {
      const res = await login(app, spelling, STRONG_PASSWORD, '203.0.113.21');
      t.not(res.statusCode, 200, `${JSON.stringify(spelling)}: no token while the name is locked`);
    }
  },
);
