// pino options for the app: request ids, redaction of credentials, compact request/response lines.
import type { FastifyRequest, FastifyReply } from 'fastify';
import type { LoggerOptions, DestinationStream } from 'pino';
import { REDACTED, redactSecrets } from './lib/redact.js';

export interface LoggerSetup {
  level: string;
  /** Where log lines go; tests pass a stream to read them back. Default: stdout. */
  stream?: DestinationStream;
}

const LOGGED_HEADERS = ['user-agent', 'content-type', 'content-length', 'authorization', 'idempotency-key', 'x-forwarded-for'];

function pickHeaders(headers: FastifyRequest['headers']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const h of LOGGED_HEADERS) if (headers[h] !== undefined) out[h] = headers[h];
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
      // pino's redact paths reach one level; these keys may nest secrets at any depth.
      body: redactSecrets,
      headers: redactSecrets,
      query: redactSecrets,
      params: redactSecrets,
      req(req: FastifyRequest) {
        return {
          method: req.method,
          url: req.url,
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
