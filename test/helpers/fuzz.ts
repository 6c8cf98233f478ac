// Bad-input fuzzing over every operation of the app's own OpenAPI document (issue 11, items 11-15).
// Seeded and deterministic: the same seed gives the same cases in the same order, so a failure is
// reproduced with FUZZ_SEED=<seed>. Used by test/fuzz.test.ts (bounded) and scripts/fuzz.ts (long).
import { randomUUID } from 'node:crypto';
import type { App } from '../../src/app.js';
import { bearer, operator, reseller } from './fixtures.js';

type Schema = Record<string, unknown>;

export interface Operation {
  operationId: string;
  method: string;
  path: string;
  params: { name: string; in: 'path' | 'query' | 'header'; schema: Schema; required: boolean }[];
  body: Schema | undefined;
  admin: boolean;
  public: boolean;
}

export interface FuzzCase {
  operationId: string;
  mutation: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

export interface FuzzFinding {
  case: FuzzCase;
  status: number;
  why: string;
  body: string;
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  /** Cases the HTTP client itself refused to send (e.g. an invalid header value). */
  unsendable: number;
  serverErrors: number;
  findings: FuzzFinding[];
  byStatus: Record<number, number>;
  /** Answers per problem code (and 'ok' for 2xx/3xx). */
  byCode: Record<string, number>;
}

/** mulberry32: small, fast, good enough to pick mutations; deterministic per seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function operationsOf(doc: Schema): Operation[] {
  const ops: Operation[] = [];
  const paths = doc.paths as Record<string, Record<string, Schema>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op !== 'object' || op === null || typeof op.operationId !== 'string') continue;
      const params = ((op.parameters ?? []) as Schema[]).map(parameterOf(doc)).map((p) => ({
        name: p.name as string,
        in: p.in as 'path' | 'query' | 'header',
        schema: (p.schema ?? {}) as Schema,
        required: p.required === true,
      }));
      const content = (op.requestBody as Schema | undefined)?.content as Record<string, { schema: Schema }> | undefined;
      const security = op.security as unknown[] | undefined;
      ops.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        params,
        body: content?.['application/json']?.schema ? resolve(doc, content['application/json'].schema) : undefined,
        admin: path.startsWith('/v1/admin'),
        public: Array.isArray(security) && security.length === 0,
      });
    }
  }
  return ops;
}

/** A parameter, or the shared one (components.parameters) it refers to. */
const parameterOf =
  (doc: Schema) =>
  (p: Schema): Schema =>
    typeof p.$ref === 'string'
      ? (((doc.components as Schema)?.parameters as Record<string, Schema>)?.[p.$ref.split('/').pop()!] ?? {})
      : p;

function resolve(doc: Schema, schema: Schema, depth = 0): Schema {
  if (depth > 20) return {};
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.split('/').pop()!;
    const target = ((doc.components as Schema)?.schemas as Record<string, Schema>)?.[name] ?? {};
    return resolve(doc, target, depth + 1);
  }
  const out: Schema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties as Record<string, Schema>).map(([k, v]) => [k, resolve(doc, v, depth + 1)]),
    );
  }
  if (schema.items) out.items = resolve(doc, schema.items as Schema, depth + 1);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(schema[key])) out[key] = (schema[key] as Schema[]).map((s) => resolve(doc, s, depth + 1));
  }
  return out;
}

const KNOWN_PATTERNS: [RegExp, string][] = [
  [/\^\[A-Z\]\{3\}\$/, 'EUR'],
  [/\^\[A-Z\]\{2\}\$/, 'DE'],
  [/RA-/, 'RA-ABCDEFGHIJ'],
  [/\\\+/, '+49.3012345678'],
];

/** A plausible value for `schema`: a valid-looking baseline that mutations then break. */
export function sample(schema: Schema, key = ''): unknown {
  if (Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf)) {
    const branches = (schema.anyOf ?? schema.oneOf) as Schema[];
    const first = branches.find((b) => b.type !== 'null') ?? branches[0] ?? {};
    return sample(first, key);
  }
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  // OpenAPI 3.1 nullable scalars: `type: ['string', 'null']`.
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(props)) if (required.has(k)) out[k] = sample(v, k);
      return out;
    }
    case 'array': {
      const n = typeof schema.minItems === 'number' ? schema.minItems : 0;
      return Array.from({ length: n }, () => sample((schema.items ?? {}) as Schema, key));
    }
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return true;
    case 'string': {
      const format = schema.format as string | undefined;
      if (format === 'uuid') return randomUUID();
      if (format === 'date-time') return new Date().toISOString();
      if (format === 'date') return new Date().toISOString().slice(0, 10);
      if (format === 'email') return 'fuzz@example.com';
      if (format === 'uri') return 'https://example.com/';
      if (format === 'ipv4') return '192.0.2.1';
      if (typeof schema.pattern === 'string') {
        const known = KNOWN_PATTERNS.find(([re]) => re.test(schema.pattern as string));
        if (known) return known[1];
      }
      if (/name|domain/.test(key)) return 'fuzz-example.com';
      if (/password/.test(key)) return 'violet-Harbour-lantern-58!quay';
      const min = typeof schema.minLength === 'number' ? schema.minLength : 1;
      return 'fuzz'
        .padEnd(Math.max(min, 4), 'z')
        .slice(0, typeof schema.maxLength === 'number' ? Math.max(schema.maxLength, min) : undefined);
    }
    default:
      return 'fuzz';
  }
}

const NESTED_DEEP = '['.repeat(3000) + ']'.repeat(3000);
const NESTED_OBJECTS = '{"a":'.repeat(2000) + '1' + '}'.repeat(2000);

/** Values that break a field: wrong types, nulls, huge and odd strings, out-of-range numbers, deep nesting. */
const BAD_VALUES: [string, () => unknown][] = [
  ['null', () => null],
  ['wrong type: number', () => 12345],
  ['wrong type: string', () => 'not-the-right-type'],
  ['wrong type: boolean', () => false],
  ['wrong type: object', () => ({ nested: { x: 1 } })],
  ['wrong type: array', () => [1, 'two', null]],
  ['NUL in string', () => 'ab\u0000cd'],
  ['only NUL', () => '\u0000'],
  ['lone high surrogate', () => 'x\ud800y'],
  ['lone low surrogate', () => '\udfff'],
  ['huge string', () => 'x'.repeat(200_000)],
  ['long string', () => 'y'.repeat(5_000)],
  ['empty string', () => ''],
  ['whitespace', () => '   \t\n'],
  ['emoji and RTL', () => '\u202e🦄\u0301ﷺ'],
  ['SQL-ish', () => "' or 1=1 --"],
  ['1e308', () => 1e308],
  ['-1e308', () => -1e308],
  ['1e20', () => 1e20],
  ['2^31', () => 2 ** 31],
  ['-2^31-1', () => -(2 ** 31) - 1],
  ['2^53+2', () => 2 ** 53 + 2],
  ['-1', () => -1],
  ['0', () => 0],
  ['1.5', () => 1.5],
  ['deep array', () => nest(40)],
  ['timestamp year 99999', () => '+099999-01-01T00:00:00.000Z'],
  ['date 0000-00-00', () => '0000-00-00'],
];

function nest(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const BAD_JSON = [
  '{',
  '{"a":}',
  '[1,2',
  '{"a":1}}',
  'nul',
  '"\\u00"',
  '{"a":"\\ud800"}',
  '\u0000',
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"a":1e309}',
  '{"a":-1e309}',
  '{"a":1,"a":2}',
];
const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=latin1',
  'application/problem+json',
  'application/json-patch+json',
  '*/*',
  'application/jsonx',
  '',
];
const PATH_VALUES = [
  '%00',
  'a%00b',
  '%zz',
  '%',
  '%E0%A4%A',
  'x'.repeat(300),
  'x'.repeat(5000),
  '..',
  '%2e%2e',
  '%2F',
  ' ',
  '%20',
  '-1',
  '0',
  '1e20',
  '1.5',
  'Infinity',
  'NaN',
  '9223372036854775808',
  '%ud800',
  '%ED%A0%80',
  '%F0%9F%A6%84',
  'null',
  'true',
  '{}',
  '[]',
  '%27%20or%201%3D1',
];
const QUERY_VALUES = [
  '%00',
  'Infinity',
  '-Infinity',
  '1e309',
  '-1e309',
  'NaN',
  '1e300',
  '-1',
  '0',
  '1.5',
  '9007199254740993',
  '',
  '%zz',
  'x'.repeat(3000),
  '%ED%A0%80',
  'true',
  '[]',
  '2026-13-45',
  '+099999-01-01T00:00:00Z',
];
const CURSORS = [
  Buffer.from('{"id":"x"}').toString('base64url'),
  Buffer.from('{"id":1.5}').toString('base64url'),
  Buffer.from('{"id":1e300}').toString('base64url'),
  Buffer.from('{"t":"+099999-01-01T00:00:00.000Z","id":"00000000-0000-0000-0000-000000000000"}').toString('base64url'),
  Buffer.from('{"name":"\\u0000"}').toString('base64url'),
  'eyJpZCI6MX0.AAAAAAAAAAAAAAAAAAAAAA',
  '.',
  '...',
  '%00',
  'x'.repeat(600),
];
const ODD_HEADERS: [string, () => Record<string, string>][] = [
  ['idempotency-key too long', () => ({ 'idempotency-key': 'k'.repeat(400) })],
  ['idempotency-key empty', () => ({ 'idempotency-key': '' })],
  ['idempotency-key spaces', () => ({ 'idempotency-key': 'a b c' })],
  ['idempotency-key latin1', () => ({ 'idempotency-key': 'ÿÿÿ' })],
  ['x-request-id odd', () => ({ 'x-request-id': '../../etc/passwd' })],
  ['x-request-id long', () => ({ 'x-request-id': 'r'.repeat(2000) })],
  ['accept odd', () => ({ accept: 'text/html;q=0.1, */*;q=x' })],
  ['authorization junk', () => ({ authorization: 'Bearer \u00ff\u00fe' })],
  [
    'authorization hmac junk',
    () => ({ authorization: 'HMAC-SHA256 Credential=, Timestamp=1e309, Nonce=%00, Signature=zz' }),
  ],
  [
    'authorization hmac huge timestamp',
    () => ({
      authorization:
        'HMAC-SHA256 Credential=abcdefgh, Timestamp=99999999999999999999, Nonce=abcdefghijklmnop, Signature=00',
    }),
  ],
  ['authorization basic', () => ({ authorization: 'Basic Zm9vOmJhcg==' })],
  ['x-forwarded-for junk', () => ({ 'x-forwarded-for': 'not-an-ip, ::ffff:999.1.1.1' })],
  ['content-encoding gzip', () => ({ 'content-encoding': 'gzip' })],
  ['transfer-encoding odd', () => ({ 'x-http-method-override': 'DELETE' })],
];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function fieldPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return prefix.length ? [prefix] : [];
  const out: string[][] = prefix.length ? [prefix] : [];
  for (const [k, v] of Object.entries(value)) out.push(...fieldPaths(v, [...prefix, k]));
  return out;
}

function setAt(root: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = Array.isArray(root) ? [...root] : { ...(root as Record<string, unknown>) };
  const [head, ...rest] = path as [string, ...string[]];
  (copy as Record<string, unknown>)[head] = setAt((copy as Record<string, unknown>)[head], rest, value);
  return copy;
}

function stringify(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'symbol')
    return v.toString();
  return v === undefined ? 'undefined' : typeof v; // a function: never in a JSON-shaped value
}

function baselinePath(op: Operation, override?: { name: string; value: string }): string {
  return op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    if (override && override.name === name) return override.value;
    const p = op.params.find((x) => x.in === 'path' && x.name === name);
    return encodeURIComponent(stringify(sample(p?.schema ?? { type: 'string' }, name)));
  });
}

function queryString(entries: [string, string][]): string {
  // Values here are already what should go on the wire (some deliberately not valid encoding).
  return entries.length ? `?${entries.map(([k, v]) => `${k}=${v}`).join('&')}` : '';
}

function baselineQuery(op: Operation): [string, string][] {
  return op.params
    .filter((p) => p.in === 'query' && p.required)
    .map((p) => [p.name, encodeURIComponent(stringify(sample(p.schema, p.name)))]);
}

/** One bad-input case for `op`, chosen by `rnd`. */
export function generateCase(op: Operation, rnd: () => number): FuzzCase {
  const headers: Record<string, string> = {};
  const hasBody = op.body !== undefined;
  const base = hasBody ? sample(op.body!) : undefined;
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const kinds = ['odd header', 'odd query', 'extra query'];
  if (hasBody)
    kinds.push(
      'bad field',
      'bad field',
      'bad field',
      'extra field',
      'bad json',
      'content type',
      'whole body',
      'deep nesting',
    );
  if (pathParams.length) kinds.push('odd path param', 'odd path param');
  if (queryParams.length) kinds.push('odd query', 'odd query');
  if (queryParams.some((p) => p.name === 'cursor')) kinds.push('odd cursor', 'odd cursor');
  const kind = pick(rnd, kinds);

  let path = baselinePath(op);
  const query = baselineQuery(op);
  let payload: string | undefined = hasBody ? JSON.stringify(base) : undefined;
  let mutation: string = kind;

  switch (kind) {
    case 'bad field': {
      const paths = fieldPaths(base);
      const [label, value] = pick(rnd, BAD_VALUES);
      const at = paths.length ? pick(rnd, paths) : [pick(rnd, Object.keys(op.body?.properties ?? {}).concat('x'))];
      payload = JSON.stringify(setAt(base, at, value()));
      mutation = `bad field /${at.join('/')}: ${label}`;
      break;
    }
    case 'extra field': {
      const [label, value] = pick(rnd, BAD_VALUES);
      payload = JSON.stringify({
        ...(base as object),
        [pick(rnd, ['extra', '\u0000', '__proto__', 'a'.repeat(300)])]: value(),
      });
      mutation = `extra field: ${label}`;
      break;
    }
    case 'whole body': {
      const [label, value] = pick(rnd, BAD_VALUES);
      payload = JSON.stringify(value());
      mutation = `whole body: ${label}`;
      break;
    }
    case 'bad json':
      payload = pick(rnd, BAD_JSON);
      mutation = `bad json: ${JSON.stringify(payload)}`;
      break;
    case 'deep nesting': {
      const deep = pick(rnd, [NESTED_DEEP, NESTED_OBJECTS]);
      const key = pick(rnd, Object.keys(op.body?.properties ?? {}).concat('x'));
      payload = rnd() < 0.5 ? deep : JSON.stringify(base).replace(/^\{/, `{"${key}":${deep},`).replace(/,\}$/, '}');
      mutation = `deep nesting (${deep === NESTED_DEEP ? 'arrays' : 'objects'})`;
      break;
    }
    case 'content type': {
      const type = pick(rnd, CONTENT_TYPES);
      headers['content-type'] = type;
      if (rnd() < 0.5) payload = 'name=x&y=%00';
      mutation = `content type ${JSON.stringify(type)}`;
      break;
    }
    case 'odd path param': {
      const p = pick(rnd, pathParams);
      const value = pick(rnd, PATH_VALUES);
      path = baselinePath(op, { name: p.name, value });
      mutation = `path param ${p.name}=${value.slice(0, 40)}`;
      break;
    }
    case 'odd query': {
      const name =
        queryParams.length && rnd() < 0.9 ? pick(rnd, queryParams).name : pick(rnd, ['limit', 'cursor', '%00', 'x']);
      const value = pick(rnd, QUERY_VALUES);
      query.push([name, value]);
      if (rnd() < 0.2) query.push([name, value]);
      mutation = `query ${name}=${value.slice(0, 40)}`;
      break;
    }
    case 'extra query':
      query.push([pick(rnd, ['extra', 'limit', 'cursor', '__proto__', 'a[b]', 'x%00']), pick(rnd, QUERY_VALUES)]);
      mutation = `extra query ${query.at(-1)![0]}`;
      break;
    case 'odd cursor': {
      const value = pick(rnd, CURSORS);
      query.push(['cursor', value]);
      mutation = `cursor ${value.slice(0, 40)}`;
      break;
    }
    case 'odd header': {
      const [label, make] = pick(rnd, ODD_HEADERS);
      Object.assign(headers, make());
      mutation = `header: ${label}`;
      break;
    }
  }
  if (payload !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  return {
    operationId: op.operationId,
    mutation,
    method: op.method,
    url: path + queryString(query),
    headers,
    ...(payload !== undefined ? { payload } : {}),
  };
}

interface Credentials {
  operator: string;
  owner: string;
}

/** Rate limits raised so that handlers are reached, not the limiter. */
async function raiseLimits(app: App, operatorToken: string): Promise<void> {
  for (const scope of ['credential', 'account', 'address']) {
    await app.inject({
      method: 'PUT',
      url: `/v1/admin/fair-use/limits/${scope}`,
      headers: bearer(operatorToken),
      payload: { capacity: 10_000_000, refill_per_minute: 100_000_000 },
    });
  }
}

/** An operator and a fresh reseller owner. */
async function freshCredentials(app: App, operatorToken?: string): Promise<Credentials> {
  const op = operatorToken ?? (await operator(app)).token;
  await raiseLimits(app, op);
  const owner = await reseller(app, op, { creditLimit: 100_000 });
  return { operator: op, owner: owner.token };
}

/** Codes after which the owner's credentials no longer reach handlers: start a new account. */
const LOCKED_OUT = new Set([
  'api_suspended',
  'account_suspended',
  'account_terminated',
  'invalid_credentials',
  'token_expired',
  'credential_revoked',
  'authentication_required',
  'two_factor_enrolment_required',
]);

/** Runs `cases` cases round-robin over every operation; a server error or a non-problem error is a finding. */
export async function runFuzz(
  app: App,
  opts: { seed: number; cases: number; onProgress?: (done: number) => void },
): Promise<FuzzSummary> {
  const rnd = seededRandom(opts.seed);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<Schema>();
  const ops = operationsOf(doc);
  let creds = await freshCredentials(app);
  const summary: FuzzSummary = {
    seed: opts.seed,
    cases: 0,
    unsendable: 0,
    serverErrors: 0,
    findings: [],
    byStatus: {},
    byCode: {},
  };
  for (let i = 0; i < opts.cases; i++) {
    const op = ops[i % ops.length]!;
    const c = generateCase(op, rnd);
    const auth = op.public ? {} : bearer(op.admin ? creds.operator : creds.owner);
    let res;
    try {
      res = await app.inject({
        method: c.method as 'GET',
        url: c.url,
        headers: { ...auth, ...c.headers },
        ...(c.payload !== undefined ? { payload: c.payload } : {}),
      });
    } catch {
      summary.unsendable++;
      continue;
    }
    summary.cases++;
    summary.byStatus[res.statusCode] = (summary.byStatus[res.statusCode] ?? 0) + 1;
    const finding = judge(res.statusCode, String(res.headers['content-type'] ?? ''), res.body);
    if (res.statusCode >= 500) summary.serverErrors++;
    if (finding) summary.findings.push({ case: c, status: res.statusCode, why: finding, body: res.body.slice(0, 500) });
    let code: unknown;
    try {
      code = res.statusCode >= 400 ? (JSON.parse(res.body) as { code?: unknown }).code : undefined;
    } catch {
      code = undefined;
    }
    const label = res.statusCode < 400 ? 'ok' : String(code);
    summary.byCode[label] = (summary.byCode[label] ?? 0) + 1;
    // The case changed who we are (a header replaced the credential, or the account got suspended):
    // keep later cases reaching their handlers.
    // A case that set a rate limit (to its minimum) would starve every later case.
    if (c.operationId === 'adminSetFairUseLimit' && res.statusCode < 300) await raiseLimits(app, creds.operator);
    if (typeof code === 'string' && LOCKED_OUT.has(code) && !('authorization' in c.headers))
      creds = await freshCredentials(app, op.admin ? undefined : creds.operator);
    opts.onProgress?.(i + 1);
  }
  return summary;
}

/** What is wrong with a response, or null: no 5xx, and every 4xx is problem+json with a `code`. */
export function judge(status: number, contentType: string, body: string): string | null {
  if (status >= 500) return 'server error';
  if (status < 400) return null;
  if (!contentType.startsWith('application/problem+json'))
    return `a ${status} that is not problem+json (${contentType || 'no content type'})`;
  try {
    const parsed = JSON.parse(body) as { code?: unknown; status?: unknown };
    if (typeof parsed.code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(parsed.code))
      return 'problem without a snake_case code';
    if (parsed.status !== status) return 'problem status differs from the HTTP status';
  } catch {
    return 'problem body is not JSON';
  }
  return null;
}
