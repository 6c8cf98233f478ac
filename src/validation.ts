// Input validation: strict JSON bodies, coerced strings elsewhere. Query strings, path parameters
// and headers only ever arrive as text, so "5" must become 5 there; a JSON body that sends 5 where
// a string belongs is a client bug and must fail, not be quietly rewritten.
import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyRequest } from 'fastify';
import { findUnsafeText } from './lib/unsafe-text.js';
import { ValidationFailed } from './errors.js';

type PoolOptions = Parameters<BuildCompilerFromPool>[1];

const BASE_OPTIONS = {
  // Unknown fields are an error, not silently dropped.
  removeAdditional: false,
  allErrors: true,
  useDefaults: true,
} as const;

type DateTimeFormat = { validate: (s: string) => boolean; compare?: (a: string, b: string) => number | undefined };
/**
 * `format: date-time` as RFC 3339 writes it and JavaScript can place: RFC 3339 admits a leap second
 * (23:59:60), which Date cannot hold, so a handler's `new Date(text)` was Invalid Date and a
 * `toISOString()` of it a 500. Such a value is refused by the schema (422) instead.
 */
function placeableDateTimes(ajv: unknown): void {
  const a = ajv as { formats: Record<string, unknown>; addFormat(name: string, f: DateTimeFormat): void };
  const base = a.formats['date-time'] as DateTimeFormat | undefined;
  if (!base || typeof base.validate !== 'function') return;
  a.addFormat('date-time', {
    validate: (s) => base.validate(s) && !Number.isNaN(Date.parse(s)),
    ...(base.compare ? { compare: base.compare } : {}),
  });
}

// Compiled validators and serializers are kept for the life of the process, keyed by the schema's
// content: an app built again in the same process (the tests build one per test, the benchmark
// several) reuses them instead of compiling every route's schemas again, which was most of the
// CPU an app build cost (about 0.6 s of 0.8 s). A compiled function depends on nothing but its
// schema, the shared schemas and the options, which the keys hold.
const validatorPool = AjvCompiler();
const compiledFor = new WeakMap<object, Map<string, unknown>>();

// A schema's key, its JSON text, written once per schema object: route schemas are mostly module
// constants, met again at every app build (tests build hundreds of apps in one process).
const keys = new WeakMap<object, string>();
function keyOf(schema: unknown): string {
  if (typeof schema !== 'object' || schema === null) return JSON.stringify(schema);
  let key = keys.get(schema);
  if (key === undefined) keys.set(schema, (key = JSON.stringify(schema)));
  return key;
}

function remembered<F>(owner: object, schema: unknown, compile: () => F): F {
  let cache = compiledFor.get(owner) as Map<string, F> | undefined;
  if (!cache) compiledFor.set(owner, (cache = new Map<string, F>()));
  const key = keyOf(schema);
  let fn = cache.get(key);
  if (fn === undefined) cache.set(key, (fn = compile()));
  return fn;
}

// Fastify asks for a compiler per route, with the shared schemas (a fresh object each time, its
// members the same objects) and the options: keyed by each shared schema's interned JSON text, not
// by the JSON of all of them at every route (a third of an app build's CPU when it was).
const textIds = new Map<string, number>();
function schemaId(schema: unknown): number {
  const text = keyOf(schema);
  let id = textIds.get(text);
  if (id === undefined) textIds.set(text, (id = textIds.size));
  return id;
}
function poolKey(externalSchemas: Record<string, unknown>, options: unknown): string {
  let key = JSON.stringify(options ?? null);
  for (const [name, schema] of Object.entries(externalSchemas)) key += `|${name}=${schemaId(schema)}`;
  return key;
}

type ValidatorPair = { strict: ReturnType<typeof validatorPool>; coercing: ReturnType<typeof validatorPool> };
const validatorPairs = new Map<string, ValidatorPair>();

export function buildValidatorFactory(): BuildCompilerFromPool {
  return (externalSchemas, options = {}) => {
    const key = poolKey(externalSchemas, options);
    let pair = validatorPairs.get(key);
    if (!pair) {
      const custom = (options as { customOptions?: object }).customOptions;
      const withCoercion = (coerceTypes: false | 'array') =>
        ({
          ...options,
          customOptions: { ...custom, ...BASE_OPTIONS, coerceTypes },
          onCreate: placeableDateTimes,
        }) as PoolOptions;
      pair = {
        strict: validatorPool(externalSchemas, withCoercion(false)),
        coercing: validatorPool(externalSchemas, withCoercion('array')),
      };
      validatorPairs.set(key, pair);
    }
    const { strict, coercing } = pair;
    return (route) => {
      // JSON bodies are checked for unsafe text as they are parsed (plugins/json-body.ts).
      if ((route as { httpPart?: string }).httpPart === 'body')
        return remembered(strict, (route as { schema: unknown }).schema, () => strict(route));
      return remembered(coercing, (route as { schema: unknown }).schema, () => refusingUnsafeText(coercing(route)));
    };
  };
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;
const serializerFactory = SerializerSelector();
const serializerBuilders = new Map<string, ReturnType<SerializerFactory>>();

/** Fastify's response serializer compiler (fast-json-stringify), remembered like the validators. */
export function buildSerializerFactory(): SerializerFactory {
  return (externalSchemas, options) => {
    const key = poolKey(externalSchemas as Record<string, unknown>, options);
    let build = serializerBuilders.get(key);
    if (!build) serializerBuilders.set(key, (build = serializerFactory(externalSchemas, options)));
    const owner = build;
    const shared = externalSchemas as Record<string, unknown>;
    return (route) =>
      // Problem bodies are built by problem-json (renderProblem), never from handler data: their
      // response schemas (one per code, oneOf by status) are for the document, and JSON.stringify
      // writes them without compiling a serializer per route and status.
      /^[45]/.test(String(route.httpStatus))
        ? JSON.stringify
        : remembered(owner, route.schema, () =>
            serializerFactory(referencedSchemas(route.schema, shared), options)(route),
          );
  };
}

/**
 * The shared schemas a schema reaches through `$ref` (transitively), by `$id`. fast-json-stringify
 * checks every shared schema it is given (depth and meta-schema) at each serializer it builds: given
 * all 200 of them at each route, that was most of an app's first `ready()` (0.7-1 s of CPU in every
 * server start and test process); given only those the route uses, it is a few milliseconds.
 */
function referencedSchemas(schema: unknown, shared: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const pending: unknown[] = [schema];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        const id = value.split('#')[0]!;
        if (id !== '' && !(id in out) && id in shared) pending.push((out[id] = shared[id]));
      } else if (typeof value === 'object') pending.push(value);
    }
  }
  return out;
}

type CompiledValidator = ((data: unknown) => unknown) & { errors?: unknown };

/**
 * A query, params or headers validator that first refuses text PostgreSQL cannot store (%00 in a
 * path or query): 422 with a pointer, as Ajv's own failures are (problem-json maps the keyword).
 */
function refusingUnsafeText<V>(validate: V): V {
  const inner = validate as unknown as CompiledValidator;
  const wrapped: CompiledValidator = (data) => {
    const unsafe = findUnsafeText(data, '');
    if (unsafe) {
      wrapped.errors = [{ keyword: 'unsafeText', instancePath: unsafe.pointer, message: unsafe.message, params: {} }];
      return false;
    }
    const ok = inner(data);
    wrapped.errors = inner.errors;
    if (!ok) return ok;
    // Ajv coerces "Infinity" and "1e309" to Infinity and then skips its range checks: refuse them.
    const infinite = findNonFiniteNumber(data);
    if (infinite !== null) {
      wrapped.errors = [{ keyword: 'type', instancePath: infinite, message: 'must be a finite number', params: {} }];
      return false;
    }
    return ok;
  };
  return wrapped as unknown as V;
}

/**
 * A request with no body on a route that takes one is validated as `{}`: optional-only bodies
 * (DELETE with an optional code) just work, and required fields are reported one by one
 * ("/body/name is required") instead of "body must be object". A route that takes none refuses a
 * JSON body that says anything (`{}` and `null` pass: clients send them for "no body").
 */
export function emptyBodyAsObject(req: FastifyRequest, _reply: unknown, done: (err?: Error) => void): void {
  const schema = req.routeOptions.schema;
  if (schema?.body) {
    if (req.body === undefined) req.body = {};
  } else if (
    schema &&
    req.body !== undefined &&
    req.body !== null &&
    isJson(req.headers['content-type']) &&
    // A route that takes another type (the raw e-mail intake) answers a JSON body itself, with 415.
    !(schema as { consumes?: string[] }).consumes?.some((type) => !isJson(type))
  ) {
    // An operation that takes no body (suspend, resume, a renewal quote...) refuses a JSON body
    // with fields, as a body schema refuses unknown fields: a caller who meant them to change
    // something learns that they did not, instead of getting 200 for what was silently ignored.
    // The first 20 fields are named (a body of 100,000 keys gets a short answer).
    const body = req.body;
    const fields = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : null;
    if (fields === null || fields.length > 0)
      return done(
        new ValidationFailed('This operation takes no request body', {
          errors:
            fields === null
              ? [{ pointer: '/body', code: 'invalid_type', message: 'this operation takes no body' }]
              : fields.slice(0, 20).map((f) => ({
                  pointer: `/body/${f.replace(/~/g, '~0').replace(/\//g, '~1')}`,
                  code: 'unknown_field',
                  message: 'is not a known field: this operation takes no body',
                })),
        }),
      );
  }
  done();
}

const isJson = (contentType: string | undefined): boolean =>
  contentType !== undefined && /^application\/([\w.+-]*\+)?json\b/i.test(contentType.trim());

/** The pointer of the first non-finite number in coerced query, params or headers, or null. */
function findNonFiniteNumber(data: unknown): string | null {
  if (data === null || typeof data !== 'object') return null;
  for (const [key, value] of Object.entries(data)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v === 'number' && !Number.isFinite(v))
        return `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}${Array.isArray(value) ? `/${i}` : ''}`;
    }
  }
  return null;
}

/**
 * onRequest: a path or query holding text PostgreSQL cannot store (%00, a lone surrogate) is
 * refused before any hook looks at it. The validator refuses it too, but authentication, the
 * R-API-2 guard and the idempotency claim run before validation and would send it to SQL. Text
 * can only get there percent-encoded, so a URL without '%' costs one scan.
 */
export function refuseUnsafeUrlText(req: FastifyRequest, _reply: unknown, done: (err?: Error) => void): void {
  if (!req.url.includes('%')) return done();
  const unsafe = findUnsafeText(req.params, '/params') ?? findUnsafeText(req.query, '/query');
  if (!unsafe) return done();
  done(new ValidationFailed('1 field(s) failed validation', { errors: [unsafe] }));
}
