// hardening-7 / R-SEC-7: secrets (passwords, key secrets, auth codes, TOTP seeds and codes, recovery
// codes, tokens, their hashes) reach neither the server log nor the audit trail, whatever the
// request's content type, and a failed statement is logged without its parameters.
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import t from 'tap';
import { queryRows } from '../../src/db/client.js';
import { PROBLEM_CONTENT_TYPE } from '../../src/errors.js';
import { buildTestApp } from '../helpers/app.js';
import { domainSetup, registered } from '../helpers/domains.js';
import { apiKey, bearer, operator, reseller, STRONG_PASSWORD, totp } from '../helpers/fixtures.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const probe = (what: string) => `${what}-${randomBytes(6).toString('hex')}`;

// Values the sweep puts in every field whose name says it holds a secret.
const PROBE = {
  password: `${probe('Leak-Probe-Pass')}-Qz!7`,
  authCode: probe('LeakProbeAuthCode'),
  totpCode: String(100_000 + (randomBytes(3).readUIntBE(0, 3) % 900_000)),
  recoveryCode: probe('leak-recovery'),
  secret: probe('leak-secret'),
  token: probe('leak-token'),
};

function probeFor(field: string): string | undefined {
  if (/password|passphrase/i.test(field)) return PROBE.password;
  if (/auth_?code/i.test(field)) return PROBE.authCode;
  if (/recovery/i.test(field)) return PROBE.recoveryCode;
  if (/totp|^code$|otp/i.test(field)) return PROBE.totpCode;
  if (/secret/i.test(field)) return PROBE.secret;
  if (/token/i.test(field)) return PROBE.token;
  return undefined;
}

type Schema = Record<string, any>;

/** A body for a schema of the OpenAPI document: plausible values, probes in the secret fields. */
function sample(doc: Schema, schema: Schema | undefined, field = '', depth = 0): unknown {
  if (!schema || depth > 6) return undefined;
  if (typeof schema.$ref === 'string')
    return sample(doc, doc.components.schemas[schema.$ref.split('/').pop()!], field, depth + 1);
  const secret = probeFor(field);
  const types: string[] = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (secret !== undefined && (types.includes('string') || types.length === 0)) return secret;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const branches = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(branches))
    return sample(doc, branches.find((b: Schema) => b.type !== 'null') ?? branches[0], field, depth + 1);
  switch (types.find((x) => x !== 'null')) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries<Schema>(schema.properties ?? {}))
        out[name] = sample(doc, prop, name, depth + 1);
      return out;
    }
    case 'array':
      return [sample(doc, schema.items, field, depth + 1)];
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      if (schema.format === 'email') return 'probe@example.test';
      if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      if (schema.format === 'date-time') return new Date().toISOString();
      return 'a'.repeat(Math.max(1, schema.minLength ?? 1));
    default:
      return undefined;
  }
}

t.test(
  'hardening-7 / R-SEC-7: a sweep over every operation with secrets in its body leaves no secret in the log or the audit trail',
  async (t) => {
    const { app, store, logs } = await buildTestApp(t, { env: { LOG_LEVEL: 'trace' } });
    const { op, r } = await domainSetup(app);

    // Real secrets handed out along the way.
    const key = await apiKey(app, r.token, ['domains:read', 'domains:write']);
    const enrol = await app.inject({
      method: 'POST',
      url: `/v1/users/${r.ownerId}/two-factor`,
      headers: bearer(r.token),
      payload: {},
    });
    t.equal(enrol.statusCode, 200, 'two-factor enrolment started');
    const totpSeed = enrol.json().secret as string;
    const confirm = await app.inject({
      method: 'POST',
      url: `/v1/users/${r.ownerId}/two-factor/confirm`,
      headers: bearer(r.token),
      payload: { code: totp(totpSeed) },
    });
    t.equal(confirm.statusCode, 200, 'two-factor confirmed');
    const recoveryCodes = confirm.json().recovery_codes as string[];
    const domain = await registered(app, r, `leak-${randomBytes(4).toString('hex')}.com`);
    const authCode = (
      await app.inject({ method: 'GET', url: `/v1/domains/${domain.name}/auth-code`, headers: bearer(r.token) })
    ).json().auth_code as string;
    const resetCode = (
      await app.inject({
        method: 'POST',
        url: `/v1/domains/${domain.name}/auth-code/reset`,
        headers: bearer(r.token),
        payload: {},
      })
    ).json().auth_code as string;
    t.ok(authCode && resetCode, 'auth codes were read and reset');

    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const operations: { method: 'POST'; url: string; operationId: string; body: unknown; admin: boolean }[] = [];
    for (const [path, item] of Object.entries<Record<string, Schema>>(doc.paths)) {
      for (const [method, opn] of Object.entries(item)) {
        const schema = opn.requestBody?.content?.['application/json']?.schema;
        if (!schema) continue;
        const url = path
          .replace(/\{name\}/g, domain.name)
          .replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        operations.push({
          method: method.toUpperCase() as 'POST',
          url,
          operationId: opn.operationId,
          body: sample(doc, schema),
          admin: path.startsWith('/v1/admin/'),
        });
      }
    }
    // The same JSON as text/plain: refused before anything reads it (first, while nothing is suspended).
    let unsupported = 0;
    for (const o of operations) {
      const headers = { ...bearer(o.admin ? op.token : r.token), 'content-type': 'text/plain' };
      const plain = await app.inject({ method: o.method, url: o.url, headers, payload: JSON.stringify(o.body) });
      if (plain.statusCode === 415 && plain.json().code === 'unsupported_media_type') unsupported++;
      else t.fail(`${o.operationId} as text/plain answered ${plain.statusCode} ${plain.body}`);
    }
    for (const o of operations) {
      await app.inject({
        method: o.method,
        url: o.url,
        headers: bearer(o.admin ? op.token : key.key),
        payload: o.body as object,
      });
      await app.inject({
        method: o.method,
        url: o.url,
        headers: bearer(o.admin ? op.token : r.token),
        payload: o.body as object,
      });
    }
    const sent = operations.length;
    t.ok(sent >= 30, `${sent} operations with a body swept`);
    t.equal(unsupported, sent, 'every operation answers 415 to a JSON text sent as text/plain');
    // A login with a password and a TOTP code, as text and as JSON.
    await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: r.ownerUsername, password: PROBE.password, totp_code: PROBE.totpCode },
    });
    await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify({ username: r.ownerUsername, password: PROBE.password }),
    });

    const secrets: Record<string, string> = {
      'probe password': PROBE.password,
      'probe auth code': PROBE.authCode,
      'probe recovery code': PROBE.recoveryCode,
      'probe secret': PROBE.secret,
      'probe token': PROBE.token,
      'users\u2019 password': STRONG_PASSWORD,
      'API key': key.key,
      'API key secret': key.secret,
      'API key hash': sha256(key.key),
      'API key secret hash': sha256(key.secret),
      'session token': r.token,
      'session token hash': sha256(r.token),
      'operator session token': op.token,
      'TOTP seed': totpSeed,
      'auth code': authCode,
      'reset auth code': resetCode,
      ...Object.fromEntries(recoveryCodes.map((c, i) => [`recovery code ${i}`, c])),
      ...Object.fromEntries(recoveryCodes.map((c, i) => [`recovery code ${i} hash`, sha256(c)])),
    };
    const logText = logs()
      .map((l) => JSON.stringify(l))
      .join('\n');
    const auditRows = await queryRows<{ row: string }>(
      store.db,
      sql`select row_to_json(a)::text as row from audit_events a`,
    );
    const auditText = auditRows.map((a) => a.row).join('\n');
    t.ok(auditRows.length > sent, `${auditRows.length} audit rows written`);
    t.ok(auditText.includes('[Redacted]'), 'audited bodies are there, redacted');
    for (const [where, text] of [
      ['log', logText],
      ['audit trail', auditText],
    ] as const) {
      for (const [name, value] of Object.entries(secrets)) t.notOk(text.includes(value), `no ${name} in the ${where}`);
      // A 6-digit code is only recognisable as a JSON string.
      const totpAt = text.search(new RegExp(`\\\\?"${PROBE.totpCode}\\\\?"`));
      t.equal(totpAt, -1, `no TOTP code in the ${where}`, {
        context: text.slice(Math.max(0, totpAt - 300), totpAt + 50),
      });
      t.notOk(text.includes('$argon2id$'), `no argon2 hash in the ${where}`);
    }
  },
);

t.test('hardening-7 / R-SEC-7: a failed statement is logged without its parameters', async (t) => {
  const { app, store, logs } = await buildTestApp(t);
  const r = await reseller(app, (await operator(app)).token);
  // Every new API key row now fails its insert, whose parameters hold the key's hash and sealed secret.
  await store.db.execute(sql`alter table api_keys add constraint leak_probe check (false) not valid`);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: bearer(r.token),
    payload: { name: 'probe', scopes: ['domains:read'] },
  });
  t.equal(res.statusCode, 500);
  t.match(String(res.headers['content-type']), PROBLEM_CONTENT_TYPE);
  const failures = logs().filter((l) => (l as { msg?: string }).msg === 'request failed');
  t.equal(failures.length, 1, 'the failure is logged');
  const err = failures[0]!.err as Record<string, unknown>;
  t.match(String(err.message), /Failed query: insert into "api_keys"/, 'the statement is named');
  t.match(String(err.message), /params: \[not logged\]/, 'its parameters are not');
  t.notOk('params' in err, 'no params field');
  const text = JSON.stringify(failures[0]);
  t.notOk(/[0-9a-f]{64}/.test(text), 'no SHA-256 hash in the logged error');
  t.notOk(/\$argon2id\$/.test(text), 'no argon2 hash in the logged error');
  t.notOk(text.includes('Failing row contains'), 'no row quoted by PostgreSQL');
});

t.test('R-SEC-7: a secret sent in the query string by mistake does not reach the log', async (t) => {
  const { app, logs } = await buildTestApp(t, { env: { LOG_LEVEL: 'trace' } });
  const secret = `query-secret-${randomBytes(6).toString('hex')}`;
  const res = await app.inject({
    method: 'POST',
    url: `/v1/auth/login?password=${secret}&Api_Key=${secret}&token=${secret}&note=kept`,
    payload: { username: 'nobody-here', password: 'wrong-password' },
  });
  t.equal(res.statusCode, 401, 'a wrong password (the query is not read)');
  const logText = logs()
    .map((l) => JSON.stringify(l))
    .join('\n');
  t.ok(logText.includes('/v1/auth/login?'), 'the request is logged with its query');
  t.ok(logText.includes('note=kept'), 'other parameters are kept');
  t.notOk(logText.includes(secret), 'no secret in the log');
});
