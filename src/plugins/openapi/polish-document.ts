// The last pass over the generated OpenAPI document, for SDK generators: document-only forms of named
// schemas (discriminated unions), shared parameters and response headers as components, enums with
// their type, nullable scalars as 3.1 type arrays, optional bodies not marked required, examples.
import { documentForms } from '../../schemas.js';
import { REQUEST_EXAMPLES } from './request-examples.js';
import { signatureDocumentation } from './signature-docs.js';

type Json = Record<string, any>;
const SCHEMAS = '#/components/schemas/';
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

const PARAMETERS: Record<string, { match: (p: Json) => boolean; param: Json }> = {
  Limit: {
    match: (p) => p.in === 'query' && p.name === 'limit' && p.schema?.maximum === 500,
    param: {
      name: 'limit',
      in: 'query',
      required: false,
      description: 'How many items to return at most',
      schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    },
  },
  Cursor: {
    match: (p) => p.in === 'query' && p.name === 'cursor',
    param: {
      name: 'cursor',
      in: 'query',
      required: false,
      description: 'The `next_cursor` of the previous page; omit for the first page. Opaque: do not build one.',
      schema: { type: 'string', maxLength: 512 },
    },
  },
  IdempotencyKey: {
    match: (p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key',
    param: {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'Makes a retry safe: the first response to this key is stored for 24 h and replayed (with `Idempotent-Replayed: true`) to a retry with the same key and body. 1-255 visible ASCII characters; a UUID is a good choice.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
      example: '6f1c2b8e-3a4d-4e5f-9a0b-1c2d3e4f5a6b',
    },
  },
};

const HEADERS: Record<string, Json> = {
  XRequestId: {
    description: 'The id of this request: yours from `X-Request-Id` when acceptable, else one we made',
    schema: { type: 'string' },
  },
  RateLimitLimit: {
    description: 'Capacity of the token bucket this call was metered against (R-API-1)',
    schema: { type: 'integer', minimum: 0, maximum: 2147483647 },
  },
  RateLimitRemaining: {
    description: 'Tokens left in that bucket after this call',
    schema: { type: 'integer', minimum: 0, maximum: 2147483647 },
  },
  RateLimitReset: {
    description: 'Seconds until that bucket is full again',
    schema: { type: 'integer', minimum: 0, maximum: 2147483647 },
  },
  RetryAfter: {
    description: 'Seconds to wait before retrying',
    schema: { type: 'integer', minimum: 0, maximum: 2147483647 },
  },
  IdempotentReplayed: {
    description: 'Present (`true`) when this response is the stored one for a repeated Idempotency-Key',
    schema: { type: 'string', enum: ['true'] },
  },
};
const HEADER_NAMES: Record<string, string> = {
  XRequestId: 'X-Request-Id',
  RateLimitLimit: 'RateLimit-Limit',
  RateLimitRemaining: 'RateLimit-Remaining',
  RateLimitReset: 'RateLimit-Reset',
  RetryAfter: 'Retry-After',
  IdempotentReplayed: 'Idempotent-Replayed',
};

/** Applies every pass, in place; returns the document. */
export function polishDocument(doc: Json): Json {
  const components = (doc.components ??= {});
  const schemas = (components.schemas ??= {});
  for (const [id, form] of documentForms()) {
    const before = schemas[id] as Json | undefined;
    const shown: Json = JSON.parse(JSON.stringify(form));
    if (before?.examples && !shown.examples) shown.examples = before.examples;
    schemas[id] = shown;
  }
  walk(doc, (node) => {
    if (typeof node.$ref === 'string' && !node.$ref.startsWith('#')) node.$ref = SCHEMAS + node.$ref;
  });
  walk(schemas, typeEnums);
  walk(schemas, nullableScalars);
  // What we send to webhook endpoints (OpenAPI 3.1 webhooks) follows the same conventions.
  if (doc.webhooks) {
    walk(doc.webhooks, typeEnums);
    walk(doc.webhooks, nullableScalars);
  }

  components.parameters = Object.fromEntries(Object.entries(PARAMETERS).map(([id, p]) => [id, p.param]));
  components.headers = Object.fromEntries(Object.entries(HEADERS));
  for (const item of Object.values<Json>(doc.paths ?? {})) {
    for (const [method, op] of Object.entries<Json>(item)) {
      if (!METHODS.has(method)) continue;
      const idempotent = shareParameters(op);
      declareHeaders(op, idempotent);
      if (op.requestBody) optionalBody(op.requestBody, schemas);
      walk(op, typeEnums);
      walk(op, nullableScalars);
      addExamples(op, schemas);
    }
  }
  signatureDocumentation(doc);
  return doc;
}

function walk(node: unknown, visit: (n: Json) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, visit);
  } else if (node && typeof node === 'object') {
    visit(node);
    for (const [k, v] of Object.entries(node))
      if (!k.startsWith('x-') && k !== 'examples' && k !== 'example') walk(v, visit);
  }
}

const jsonType = (v: unknown): string =>
  v === null ? 'null' : Number.isInteger(v) ? 'integer' : typeof v === 'number' ? 'number' : typeof v;

/** `enum` with its `type`, which generators need to make a typed union. */
function typeEnums(n: Json): void {
  if (!Array.isArray(n.enum) || n.type !== undefined) return;
  const types = [...new Set(n.enum.map(jsonType))];
  n.type = types.length === 1 ? types[0] : types;
}

const SCALARS = new Set(['string', 'integer', 'number', 'boolean']);

/** `anyOf: [{type: 'string', ...}, {type: 'null'}]` -> `type: ['string', 'null']` (OpenAPI 3.1). */
function nullableScalars(n: Json): void {
  const alts = n.anyOf;
  if (!Array.isArray(alts) || alts.length !== 2) return;
  const nullAt = alts.findIndex((a: Json) => a.type === 'null' && Object.keys(a).length === 1);
  if (nullAt < 0) return;
  const other = alts[1 - nullAt] as Json;
  if (!SCALARS.has(other.type) || other.$ref || other.anyOf || other.oneOf) return;
  delete n.anyOf;
  Object.assign(n, { ...other, ...n, type: [other.type, 'null'] });
  if (Array.isArray(other.enum)) n.enum = [...other.enum, null];
}

function shareParameters(op: Json): boolean {
  let idempotent = false;
  if (!Array.isArray(op.parameters)) return idempotent;
  op.parameters = op.parameters.map((p: Json) => {
    for (const [id, shared] of Object.entries(PARAMETERS)) {
      if (!p.$ref && shared.match(p)) {
        if (id === 'IdempotencyKey') idempotent = true;
        return { $ref: `#/components/parameters/${id}` };
      }
    }
    return p;
  });
  return idempotent;
}

function declareHeaders(op: Json, idempotent: boolean): void {
  const metered = Boolean(op.responses?.['429']);
  for (const [status, response] of Object.entries<Json>(op.responses ?? {})) {
    if (response.$ref) continue;
    const names = ['XRequestId'];
    // Metering runs after authentication: refusals by auth carry no bucket state.
    if (metered && status !== '401' && status !== '403')
      names.push('RateLimitLimit', 'RateLimitRemaining', 'RateLimitReset');
    if (status === '429' || status === '503') names.push('RetryAfter');
    if (idempotent && status.startsWith('2')) names.push('IdempotentReplayed');
    response.headers ??= {};
    for (const id of names) response.headers[HEADER_NAMES[id]!] ??= { $ref: `#/components/headers/${id}` };
  }
}

const resolve = (schema: Json | undefined, schemas: Json): Json | undefined =>
  typeof schema?.$ref === 'string' && schema.$ref.startsWith(SCHEMAS)
    ? schemas[schema.$ref.slice(SCHEMAS.length)]
    : schema;

/** A body none of whose fields is required may be left out: not `required: true`. */
function optionalBody(body: Json, schemas: Json): void {
  const schema = resolve(body.content?.['application/json']?.schema, schemas);
  if (!schema) return;
  const required = Array.isArray(schema.required) && schema.required.length > 0;
  if (required) body.required = true;
  else delete body.required;
}

const EXAMPLE_BY_FORMAT: Record<string, unknown> = {
  uuid: '3f2b8c1e-5d4a-4e6b-9c7d-1a2b3c4d5e6f',
  'date-time': '2026-03-01T08:05:00.000Z',
  date: '2026-03-01',
  email: 'ops@example-hosting.test',
  uri: 'https://example.com/evidence',
};

/** An example value for a schema, from its own examples, default, const, enum, format or type. */
export function exampleOf(schema: Json | undefined, schemas: Json, depth = 0): unknown {
  if (!schema || depth > 14) return undefined;
  if (schema.$ref) return exampleOf(resolve(schema, schemas), schemas, depth + 1);
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum.find((v: unknown) => v !== null) ?? null;
  const alts = schema.oneOf ?? schema.anyOf;
  if (Array.isArray(alts)) return exampleOf(alts.find((a: Json) => a.type !== 'null') ?? alts[0], schemas, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  if (schema.format && EXAMPLE_BY_FORMAT[schema.format] !== undefined) return EXAMPLE_BY_FORMAT[schema.format];
  switch (type) {
    case 'object': {
      const out: Json = {};
      for (const [k, v] of Object.entries<Json>(schema.properties ?? {})) {
        const value = exampleOf(v, schemas, depth + 1);
        if (value !== undefined) out[k] = value;
      }
      return out;
    }
    case 'array': {
      const item = exampleOf(schema.items, schemas, depth + 1);
      const n = Math.max(1, schema.minItems ?? 1);
      return item === undefined ? [] : Array.from({ length: n }, () => item);
    }
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 1, Math.min(schema.maximum ?? 1, 1));
    case 'boolean':
      return true;
    case 'string':
      // A pattern we cannot satisfy by guessing: null where allowed, else no example (the schema
      // must carry its own; the OpenAPI test checks every example against its schema).
      if (schema.pattern) return Array.isArray(schema.type) && schema.type.includes('null') ? null : undefined;
      return 'x'.repeat(Math.max(1, schema.minLength ?? 6));
    case 'null':
      return null;
    default:
      return undefined;
  }
}

/** Request bodies and 2xx JSON responses without examples get one (named schemas carry their own). */
function addExamples(op: Json, schemas: Json): void {
  const media: Json[] = [];
  const body = op.requestBody?.content?.['application/json'];
  const given = REQUEST_EXAMPLES[op.operationId];
  if (body && given !== undefined) {
    if (body.schema?.$ref) body.example = given;
    else body.schema.examples = [given];
  } else if (body) media.push(body);
  for (const [status, response] of Object.entries<Json>(op.responses ?? {})) {
    const m = response.content?.['application/json'];
    if (status.startsWith('2') && m) media.push(m);
  }
  for (const m of media) {
    const schema = m.schema as Json | undefined;
    if (!schema || m.example !== undefined || m.examples) continue;
    const own = resolve(schema, schemas);
    if (Array.isArray(own?.examples) && own.examples.length) continue;
    const value = exampleOf(schema, schemas);
    if (value === undefined) continue;
    if (schema.$ref) m.example = value;
    else schema.examples = [value];
  }
}
