// The application/json body parser. Keeps the exact bytes (signed requests sign them), parses with
// Fastify's own prototype-poisoning-safe parser, and refuses before anything else sees the body:
// nesting deeper than MAX_JSON_DEPTH (400 json_too_deep: deep values are no part of any schema, and
// every later walk over the body stays shallow) and strings PostgreSQL cannot store (422 with a
// pointer, see lib/unsafe-text.ts).
import fp from 'fastify-plugin';
import { type AppError, declareErrors, defineError, UnsupportedMediaType, ValidationFailed } from '../errors.js';
import { findUnsafeText, jsonMayHoldUnsafeText } from '../lib/unsafe-text.js';

/** Deepest nesting of arrays and objects a JSON body may have. No request schema goes past 5. */
export const MAX_JSON_DEPTH = 32;

/** The methods Fastify reads a body for. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const JsonTooDeep = defineError('json_too_deep', 400, 'The JSON body is nested too deeply');

declare module 'fastify' {
  interface FastifyRequest {
    /** The body's bytes as received (signature checks hash them). */
    rawBody: Buffer | undefined;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether JSON bytes nest deeper than `max`, counting brackets outside strings. Works on UTF-8
 * bytes: a multi-byte character never contains an ASCII byte. Malformed JSON is left to the parser.
 */
export function nestsDeeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/**
 * The parser refuses `__proto__` and `constructor.prototype` keys (prototype poisoning) with the
 * error it gives broken JSON. Valid JSON holding one is told so: 422 with the key, not "malformed".
 */
function forbiddenKey(text: string): AppError | null {
  try {
    JSON.parse(text);
  } catch {
    return null; // broken JSON after all
  }
  const message = text.includes('__proto__') ? 'holds a "__proto__" key' : 'holds a "constructor.prototype" key';
  return new ValidationFailed('The body holds a key this API never takes', {
    errors: [{ pointer: '/body', code: 'forbidden_key', message }],
  });
}

/** The charset parameter of a Content-Type, quoted or not. */
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

export default fp(
  async function jsonBodyPlugin(app) {
    app.decorateRequest('rawBody', undefined);
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (route.schema && !route.schema.hide && methods.some((m) => BODY_METHODS.has(m)))
        declareErrors(route, JsonTooDeep);
    });
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, raw, done) => {
      const body = raw as Buffer;
      req.rawBody = body;
      // JSON is UTF-8 (RFC 8259 8.1): a body labelled otherwise would be read as what it is not.
      const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
        return done(new UnsupportedMediaType(`JSON bodies are UTF-8; this one says charset=${charset}`), undefined);
      // An empty JSON body on a DELETE or a POST without fields is common from HTTP clients.
      if (body.length === 0) return done(null, undefined);
      if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
        return done(
          new JsonTooDeep(`The JSON body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`),
          undefined,
        );
      }
      const text = body.toString('utf8');
      // Fastify's default JSON parser answers through the callback (its type also allows a promise).
      void parseJson(req, text, (err, value) => {
        if (err) return done(forbiddenKey(text) ?? err, undefined);
        if (jsonMayHoldUnsafeText(text)) {
          const unsafe = findUnsafeText(value, '/body');
          if (unsafe)
            return done(new ValidationFailed('1 field(s) failed validation', { errors: [unsafe] }), undefined);
        }
        done(null, value);
      });
    });
  },
  { name: 'json-body', fastify: '5.x' },
);
