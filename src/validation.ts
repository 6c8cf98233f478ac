// Input validation: strict JSON bodies, coerced strings elsewhere. Query strings, path parameters
// and headers only ever arrive as text, so "5" must become 5 there; a JSON body that sends 5 where
// a string belongs is a client bug and must fail, not be quietly rewritten.
import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';
import type { FastifyRequest } from 'fastify';

type PoolOptions = Parameters<BuildCompilerFromPool>[1];

const BASE_OPTIONS = {
  // Unknown fields are an error, not silently dropped.
  removeAdditional: false,
  allErrors: true,
  useDefaults: true,
} as const;

export function buildValidatorFactory(): BuildCompilerFromPool {
  const pool = AjvCompiler() as BuildCompilerFromPool;
  return (externalSchemas, options = {}) => {
    const custom = (options as { customOptions?: object }).customOptions;
    const withCoercion = (coerceTypes: false | 'array') =>
      ({ ...options, customOptions: { ...custom, ...BASE_OPTIONS, coerceTypes } }) as PoolOptions;
    const strict = pool(externalSchemas, withCoercion(false));
    const coercing = pool(externalSchemas, withCoercion('array'));
    return (route) => ((route as { httpPart?: string }).httpPart === 'body' ? strict(route) : coercing(route));
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
