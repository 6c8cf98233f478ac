// Input validation: strict JSON bodies, coerced strings elsewhere. Query strings, path parameters
// and headers only ever arrive as text, so "5" must become 5 there; a JSON body that sends 5 where
// a string belongs is a client bug and must fail, not be quietly rewritten.
import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyRequest } from 'fastify';

type PoolOptions = Parameters<BuildCompilerFromPool>[1];

const BASE_OPTIONS = {
  // Unknown fields are an error, not silently dropped.
  removeAdditional: false,
  allErrors: true,
  useDefaults: true,
} as const;

// Compiled validators and serializers are kept for the life of the process, keyed by the schema's
// content: an app built again in the same process (the tests build one per test, the benchmark
// several) reuses them instead of compiling every route's schemas again, which was most of the
// CPU an app build cost (about 0.6 s of 0.8 s). A compiled function depends on nothing but its
// schema, the shared schemas and the options, which the keys hold.
const validatorPool = AjvCompiler() as BuildCompilerFromPool;
const compiledFor = new WeakMap<object, Map<string, unknown>>();

function remembered<F>(owner: object, schema: unknown, compile: () => F): F {
  let cache = compiledFor.get(owner) as Map<string, F> | undefined;
  if (!cache) compiledFor.set(owner, (cache = new Map()));
  const key = JSON.stringify(schema);
  let fn = cache.get(key);
  if (fn === undefined) cache.set(key, (fn = compile()));
  return fn;
}

export function buildValidatorFactory(): BuildCompilerFromPool {
  return (externalSchemas, options = {}) => {
    const custom = (options as { customOptions?: object }).customOptions;
    const withCoercion = (coerceTypes: false | 'array') =>
      ({ ...options, customOptions: { ...custom, ...BASE_OPTIONS, coerceTypes } }) as PoolOptions;
    // The pool answers the same compiler for the same shared schemas and options.
    const strict = validatorPool(externalSchemas, withCoercion(false));
    const coercing = validatorPool(externalSchemas, withCoercion('array'));
    return (route) => {
      const compiler = (route as { httpPart?: string }).httpPart === 'body' ? strict : coercing;
      return remembered(compiler, (route as { schema: unknown }).schema, () => compiler(route));
    };
  };
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;
const serializerFactory = SerializerSelector();
const serializerOwners = new Map<string, object>();

/** Fastify's response serializer compiler (fast-json-stringify), remembered like the validators. */
export function buildSerializerFactory(): SerializerFactory {
  return (externalSchemas, options) => {
    const build = serializerFactory(externalSchemas, options);
    const ownerKey = JSON.stringify([externalSchemas, options]);
    let owner = serializerOwners.get(ownerKey);
    if (!owner) serializerOwners.set(ownerKey, (owner = {}));
    const cacheOwner = owner;
    return (route) => remembered(cacheOwner, route.schema, () => build(route));
  };
}

/**
 * A request with no body on a route that takes one is validated as `{}`: optional-only bodies
 * (DELETE with an optional code) just work, and required fields are reported one by one
 * ("/body/name is required") instead of "body must be object".
 */
export function emptyBodyAsObject(req: FastifyRequest, _reply: unknown, done: () => void): void {
  if (req.body === undefined && req.routeOptions.schema?.body) req.body = {};
  done();
}
