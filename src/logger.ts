// pino options for the app: request ids, redaction of credentials, compact request/response lines.
import type { FastifyRequest, FastifyReply } from 'fastify';
import { stdSerializers, type LoggerOptions, type DestinationStream } from 'pino';
import { REDACTED, redactBody, redactSecrets, redactUrl } from './lib/redact.js';

export interface LoggerSetup {
  level: string;
  /** Where log lines go; tests pass a stream to read them back. Default: stdout. */
  stream?: DestinationStream;
}

const LOGGED_HEADERS = [
  'user-agent',
  'content-type',
  'content-length',
  'authorization',
  'idempotency-key',
  'x-forwarded-for',
];

function pickHeaders(headers: FastifyRequest['headers']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const h of LOGGED_HEADERS) if (headers[h] !== undefined) out[h] = headers[h];
  return out;
}

// R-SEC-7: a failed statement must not put its values in the log. Drizzle's DrizzleQueryError
// carries `params` and writes them into its message ("Failed query: ...\nparams: <values>"), and
// PostgreSQL quotes rows in `detail` ("Key (key_hash)=(...) already exists"): sealed secrets, key
// hashes and password hashes went to the log that way. The SQL text itself has only placeholders.
const VALUE_BEARING_KEYS = ['params', 'parameters', 'detail', 'where', 'internalQuery'];
const NOT_LOGGED = '[not logged]';

interface FailedQuery {
  query: string;
  params: unknown;
}

/** The failed queries in an error, its causes and aggregated errors. */
function failedQueries(err: unknown, found: FailedQuery[] = [], depth = 0): FailedQuery[] {
  if (err === null || typeof err !== 'object' || depth > 8) return found;
  const e = err as { query?: unknown; params?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.query === 'string' && 'params' in e) found.push(e as FailedQuery);
  failedQueries(e.cause, found, depth + 1);
  if (Array.isArray(e.errors)) for (const inner of e.errors) failedQueries(inner, found, depth + 1);
  return found;
}

function scrubSerialized(out: Record<string, unknown>, replacements: [string, string][], depth = 0): void {
  for (const key of VALUE_BEARING_KEYS) delete out[key];
  for (const key of ['message', 'stack']) {
    const original = out[key];
    if (typeof original !== 'string') continue;
    let text = original;
    for (const [values, placeholder] of replacements) text = text.split(values).join(placeholder);
    out[key] = text;
  }
  if (depth > 8) return;
  for (const value of Object.values(out)) {
    const nested = Array.isArray(value) ? value : [value];
    for (const n of nested)
      if (n !== null && typeof n === 'object' && typeof (n as { message?: unknown }).message === 'string')
        scrubSerialized(n as Record<string, unknown>, replacements, depth + 1);
  }
}

/** pino's error serializer, without the values of any failed statement (message, stack, fields, causes). */
export function serializeError(err: unknown): unknown {
  const out = stdSerializers.err(err as Error) as unknown;
  if (out === err || out === null || typeof out !== 'object') return out;
  // Drizzle builds the message as `...\nparams: ${params}`: replace exactly that text wherever it
  // was copied (the message, the stack's first line, a wrapping error's message).
  const replacements = failedQueries(err).map((q): [string, string] => [
    `\nparams: ${String(q.params)}`,
    `\nparams: ${NOT_LOGGED}`,
  ]);
  scrubSerialized(out as Record<string, unknown>, replacements);
  return out;
}

export function loggerOptions(setup: LoggerSetup): LoggerOptions & { stream?: DestinationStream } {
  return {
    level: setup.level,
    ...(setup.stream ? { stream: setup.stream } : {}),
    redact: {
      // Headers are also masked by the request serializer; these catch anything logged by hand.
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
        'headers.authorization',
        'headers.cookie',
        'res.headers["set-cookie"]',
        '*.password',
        '*.new_password',
        '*.current_password',
        '*.secret',
        '*.token',
        '*.api_key',
        '*.auth_code',
        '*.totp_code',
        '*.recovery_code',
      ],
      censor: REDACTED,
    },
    serializers: {
      err: serializeError,
      // pino's redact paths reach one level; these keys may nest secrets at any depth. A body is
      // redacted whatever its content type (a JSON text sent as text/plain is parsed first).
      body: redactBody,
      headers: redactSecrets,
      query: redactSecrets,
      params: redactSecrets,
      req(req: FastifyRequest) {
        return {
          method: req.method,
          url: redactUrl(req.url),
          remote_address: req.ip,
          headers: redactSecrets(pickHeaders(req.headers)),
        };
      },
      res(reply: FastifyReply) {
        return { status_code: reply.statusCode };
      },
    },
  };
}
