// One error handler for the whole app: every failure (ours, Fastify's, unknown routes, wrong
// methods, bodies, crashes) leaves as RFC 9457 application/problem+json with a stable `code`.
// It also documents those problem responses on every route, so the OpenAPI document is honest.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import FindMyWay, { type HTTPVersion } from 'find-my-way';
import {
  AppError,
  BadRequest,
  codeProblemSchemas,
  declareErrors,
  type ErrorClass,
  FieldError,
  HeadersTooLarge,
  InternalError,
  InvalidUrlEncoding,
  MalformedJson,
  MalformedRequest,
  MethodNotAllowed,
  PayloadTooLarge,
  Problem,
  PROBLEM_CONTENT_TYPE,
  problemType,
  RequestTimeout,
  RouteNotFound,
  ServiceUnavailable,
  UnsupportedMediaType,
  UriTooLong,
  ValidationFailed,
  type FieldErrorBody,
  type ProblemBody,
} from '../errors.js';
import { redactSecrets } from '../lib/redact.js';
import { REQUEST_ID_HEADER } from './request-id.js';
import { isDatabaseUnavailable } from '../db/client.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * An error a plugin's onError hook found to answer instead of the one raised: a repeat of a
     * remembered failure (R-API-2) whose lookup the failed handler had not made yet.
     */
    errorOverride: Error | undefined;
  }
}

/** Seconds a client should wait before retrying while the database is unreachable or stalled. */
const DATABASE_RETRY_AFTER_S = '5';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

const KEYWORD_CODES: Record<string, string> = {
  required: 'required',
  additionalProperties: 'unknown_field',
  type: 'invalid_type',
  format: 'invalid_format',
  pattern: 'invalid_format',
  enum: 'invalid_value',
  const: 'invalid_value',
  minLength: 'too_short',
  maxLength: 'too_long',
  minimum: 'too_small',
  exclusiveMinimum: 'too_small',
  maximum: 'too_large',
  exclusiveMaximum: 'too_large',
  minItems: 'too_few_items',
  maxItems: 'too_many_items',
  uniqueItems: 'duplicate_items',
  // validation.ts: NUL or a lone surrogate in a query, path parameter or header.
  unsafeText: 'invalid_character',
};

const escapePointer = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** Ajv errors -> field errors with a JSON Pointer rooted at the request part. */
export function toFieldErrors(validation: AjvError[], context: string): FieldErrorBody[] {
  const part = context === 'querystring' ? 'query' : context;
  const seen = new Set<string>();
  const out: FieldErrorBody[] = [];
  for (const e of validation) {
    let pointer = `/${part}${e.instancePath}`;
    if (e.keyword === 'required') pointer += `/${escapePointer(String(e.params.missingProperty))}`;
    if (e.keyword === 'additionalProperties') pointer += `/${escapePointer(String(e.params.additionalProperty))}`;
    const code = KEYWORD_CODES[e.keyword] ?? 'invalid';
    const message =
      e.keyword === 'additionalProperties'
        ? 'is not a known field'
        : e.keyword === 'required'
          ? 'is required'
          : (e.message ?? 'is invalid');
    const key = `${pointer} ${code}`;
    // anyOf/oneOf branches repeat the same failure; one line per field and code is enough.
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer, code, message });
  }
  return out;
}

/** The media types a request body may have: the route's `consumes`, else JSON. */
const JSON_ONLY: readonly string[] = ['application/json'];

/**
 * Maps any thrown value to the AppError that describes it to the client. `consumes`: the media
 * types the route accepts (its schema's `consumes`), which a 415 names.
 */
export function toAppError(err: unknown, consumes: readonly string[] = JSON_ONLY): AppError {
  if (err instanceof AppError) return err;
  const e = err as FastifyError & { validationContext?: string };
  if (Array.isArray(e?.validation)) {
    const errors = toFieldErrors(e.validation, e.validationContext ?? 'body');
    return new ValidationFailed(`${errors.length} field(s) failed validation`, { errors });
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge('The request body exceeds the size limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType(`Send the body as ${consumes.join(' or ')}`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MalformedJson('The body is empty but Content-Type says JSON');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new MalformedJson();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BadRequest('Content-Length does not match the body');
  }
  if (isDatabaseUnavailable(err)) {
    // Down, restarting, stalled past the statement timeout: nothing is wrong with the request.
    return new ServiceUnavailable('The database is unavailable; retry shortly', {
      headers: { 'retry-after': DATABASE_RETRY_AFTER_S },
    });
  }
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status === 400 && (e instanceof SyntaxError || /JSON/.test(String(e?.message)))) {
    return new MalformedJson();
  }
  if (status >= 400 && status < 500) {
    // Fastify's own client errors carry safe messages; keep its status.
    return new AppError(
      { code: status === 404 ? 'not_found' : 'bad_request', status, title: 'Bad request' },
      e.message,
    );
  }
  return new InternalError('An unexpected error occurred. Quote the request_id when you contact support.');
}

/**
 * The problem document. The standard members come first and an extension never replaces one, so
 * problemCodeOf, which takes the first `"code"` of the text (the audit row, the repeated-failure
 * guard), gets the problem's own, not a nested one such as repeated_failed_command's
 * first_failure.code.
 */
export function renderProblem(err: AppError, req: FastifyRequest): ProblemBody {
  const body: ProblemBody = {
    type: problemType(err.code),
    title: err.title,
    status: err.statusCode,
    detail: err.message,
    code: err.code,
    instance: req.url.split('?')[0] ?? req.url,
    request_id: req.id,
  };
  for (const [name, value] of Object.entries(err.extensions ?? {})) if (!(name in body)) body[name] = value;
  if (err.fieldErrors) body.errors = err.fieldErrors;
  return body;
}

/** The code of a problem document's text without parsing it (renderProblem writes its own code before any nested one); null for other text. */
export const problemCodeOf = (payload: unknown): string | null =>
  typeof payload === 'string' ? (/"code":"([a-z0-9_]+)"/.exec(payload)?.[1] ?? null) : null;

export function sendProblem(reply: FastifyReply, err: AppError): FastifyReply {
  if (err.headers) reply.headers(err.headers);
  return reply.code(err.statusCode).type(PROBLEM_CONTENT_TYPE).send(renderProblem(err, reply.request));
}

/**
 * Fastify's `frameworkErrors` option: errors its router raises before any route or hook runs (a
 * path that is not valid percent-encoding, a path parameter past maxParamLength).
 */
export function frameworkErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const problem =
    err.code === 'FST_ERR_BAD_URL'
      ? new InvalidUrlEncoding('The URL path is not validly percent-encoded (e.g. a % not followed by two hex digits)')
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new UriTooLong('A path segment is longer than the server accepts')
        : toAppError(err);
  req.log.info({ code: problem.code, status: problem.statusCode }, problem.message);
  reply.header(REQUEST_ID_HEADER, req.id);
  // Sent outside any route, so no onSend hook adds it (plugins/response-headers.ts).
  reply.header('x-content-type-options', 'nosniff');
  void sendProblem(reply, problem);
}

/**
 * The server's 'clientError' handler (Fastify's `clientErrorHandler`): Node refused the bytes
 * before a request existed (malformed HTTP, headers too large, too slow). There is no request or
 * reply, so a minimal problem+json response is written on the socket, which is then closed.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const problem =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLarge('The request line and headers exceed the size the server accepts')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeout('The request was not received in time')
        : new MalformedRequest('The request could not be parsed as HTTP/1.1');
  const requestId = randomUUID();
  this.log.info(
    { code: problem.code, status: problem.statusCode, request_id: requestId, http_parser_error: err.code },
    problem.message,
  );
  if (socket.writable) {
    const body = JSON.stringify({
      type: problemType(problem.code),
      title: problem.title,
      status: problem.statusCode,
      detail: problem.message,
      code: problem.code,
      instance: '',
      request_id: requestId,
    } satisfies ProblemBody);
    socket.write(
      `HTTP/1.1 ${problem.statusCode} ${STATUS_CODES[problem.statusCode] ?? 'Error'}\r\n` +
        `content-type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        `${REQUEST_ID_HEADER}: ${requestId}\r\n` +
        'x-content-type-options: nosniff\r\n' +
        'connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The codes a route can answer whatever its handler does. */
function defaultErrors(route: RouteOptions): ErrorClass[] {
  // 503: the database unreachable or stalled, or the instance draining on shutdown (plugins/drain.ts).
  // 422: besides the schema's checks, any query or path holding text PostgreSQL cannot store (%00).
  const errors: ErrorClass[] = [InternalError, ServiceUnavailable, ValidationFailed];
  // 400 / 414: a path parameter that is not validly percent-encoded, or longer than the limit, is
  // refused before the route's own checks (a static path with either names no route: 404).
  if (route.url.includes(':')) errors.push(InvalidUrlEncoding, UriTooLong);
  // Fastify reads a body on these methods whether or not the route takes one.
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.some((m) => BODY_METHODS.has(m)))
    errors.push(ValidationFailed, MalformedJson, BadRequest, PayloadTooLarge, UnsupportedMediaType);
  return errors;
}

/** A route answered a code it does not declare (BuildOptions.checkErrorCodes). */
export interface UndeclaredError {
  method: string;
  url: string;
  code: string;
}

export interface ProblemJsonOptions {
  /**
   * When set, a problem whose code the route does not declare is reported here and answered 500
   * instead: the tests turn it on so that the document's per-route codes stay true.
   */
  checkErrorCodes?: (undeclared: UndeclaredError) => void;
}

export default fp<ProblemJsonOptions>(
  async function problemJsonPlugin(app, opts) {
    app.decorateRequest('errorOverride', undefined);
    app.addSchema(FieldError);
    app.addSchema(Problem);
    for (const schema of codeProblemSchemas()) app.addSchema(schema);

    // A second router that only answers "which methods exist at this path?" for 405s.
    const methodsRouter = FindMyWay<HTTPVersion.V1>({ ignoreTrailingSlash: false });
    app.addHook('onRoute', (route) => {
      // A catch-all (@fastify/cors's OPTIONS route, with CORS_ORIGINS) is not a method of every path.
      const methods = route.url === '*' ? [] : Array.isArray(route.method) ? route.method : [route.method];
      for (const m of methods) {
        try {
          methodsRouter.on(m as 'GET', route.url, () => {});
        } catch {
          // Already known (HEAD is added for every GET).
        }
      }
      if (route.schema && !route.schema.hide) declareErrors(route, ...defaultErrors(route));
    });

    // Draining on shutdown (503 with Connection: close) lives in the drain plugin.

    app.setNotFoundHandler(async (req, reply) => {
      const path = req.url.split('?')[0] ?? '/';
      const allowed = METHODS.filter((m) => m !== req.method && methodsRouter.find(m, path) !== null);
      // Without CORS nothing else answers OPTIONS: a known path says which methods it takes.
      if (req.method === 'OPTIONS' && allowed.length > 0)
        return reply
          .code(204)
          .header('allow', [...allowed, 'OPTIONS'].join(', '))
          .send();
      if (allowed.length > 0) {
        return sendProblem(
          reply,
          new MethodNotAllowed(`${req.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, {
            headers: { allow: allowed.join(', ') },
          }),
        );
      }
      return sendProblem(reply, new RouteNotFound(`No route ${req.method} ${path}`));
    });

    const check = opts.checkErrorCodes;
    app.setErrorHandler(async (raised, req, reply) => {
      const err = req.errorOverride ?? raised;
      const consumes = req.routeOptions.schema?.consumes;
      let appError = toAppError(err, consumes?.length ? consumes : JSON_ONLY);
      const declared = req.routeOptions.config?.errorCodes;
      if (check && declared && !declared.has(appError.code)) {
        const undeclared = { method: req.method, url: req.routeOptions.url ?? req.url, code: appError.code };
        check(undeclared);
        appError = new InternalError(
          `${undeclared.method} ${undeclared.url} answered ${appError.code}, which it does not declare (schema.errors)`,
        );
      }
      if (appError.statusCode >= 500) {
        req.log.error({ err, body: redactSecrets(req.body) }, 'request failed');
      } else {
        req.log.info({ code: appError.code, status: appError.statusCode }, appError.message);
      }
      return sendProblem(reply, appError);
    });
  },
  { name: 'problem-json', fastify: '5.x' },
);
