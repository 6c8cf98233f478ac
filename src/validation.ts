// Input validation: strict JSON bodies, coerced strings elsewhere. Query strings, path parameters
// and headers only ever arrive as text, so "5" must become 5 there; a JSON body that sends 5 where
// a string belongs is a client bug and must fail, not be quietly rewritten.
import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';

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
