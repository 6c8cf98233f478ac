// Coded errors: one definition = one stable `code` + one HTTP status. Handlers throw them; the
// error-handler plugin renders every error as RFC 9457 application/problem+json.
import { Type, type Static, type TObject } from 'typebox';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem type URIs are stable identifiers, not links: `urn:reseller-api:problem:<code>`. */
export const problemType = (code: string): string => `urn:reseller-api:problem:${code}`;

export const FieldError = Type.Object(
  {
    pointer: Type.String({
      description:
        'JSON Pointer into the request, rooted at its part: /body/..., /query/..., /params/..., /headers/...',
    }),
    code: Type.String({ description: 'Stable snake_case code of this field error' }),
    message: Type.String(),
  },
  { $id: 'FieldError', additionalProperties: false },
);

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URN naming the problem type' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.String(),
    code: Type.String({ description: 'Stable snake_case code for SDKs to switch on' }),
    instance: Type.String({ description: 'The request path this problem occurred on' }),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(Type.Ref('FieldError'))),
    repeat_refused_until: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          'On a failed command that is remembered (R-API-2): until when sending this exact command again is refused, unless what it names changes first',
      }),
    ),
  },
  {
    $id: 'Problem',
    description: 'RFC 9457 problem details. Further members specific to a code may appear.',
    additionalProperties: true,
  },
);
export type ProblemBody = Static<typeof Problem> & Record<string, unknown>;
export type FieldErrorBody = Static<typeof FieldError>;

export class AppError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly title: string;
  /** Extra problem members, e.g. `first_failure` for repeated_failed_command. */
  readonly extensions: Record<string, unknown> | undefined;
  readonly fieldErrors: FieldErrorBody[] | undefined;
  /** Response headers that belong to this error (Retry-After, Allow...). */
  readonly headers: Record<string, string> | undefined;

  constructor(
    def: { code: string; status: number; title: string },
    detail?: string,
    opts: { extensions?: Record<string, unknown>; errors?: FieldErrorBody[]; headers?: Record<string, string> } = {},
  ) {
    super(detail ?? def.title);
    this.name = 'AppError';
    this.code = def.code;
    this.statusCode = def.status;
    this.title = def.title;
    this.extensions = opts.extensions;
    this.fieldErrors = opts.errors;
    this.headers = opts.headers;
  }
}

/** What a handler may pass with a coded error; `extensions` are the code's typed extra members. */
export interface ProblemOptions<X = Record<string, unknown>> {
  extensions?: X;
  errors?: FieldErrorBody[];
  headers?: Record<string, string>;
}

type ExtensionsOf<S> = S extends TObject ? Static<S> : never;

export interface ErrorClass<S extends TObject | undefined = TObject | undefined> {
  new (detail?: string, opts?: ProblemOptions<ExtensionsOf<S>>): AppError;
  readonly code: string;
  readonly status: number;
  readonly title: string;
  /** The code's extra problem members, typed (insufficient_funds: available, required...). */
  readonly extensions: S;
}

interface Definition {
  status: number;
  title: string;
  extensions: TObject | undefined;
}

const registry = new Map<string, Definition>();

/**
 * Declares a coded error. Codes are unique across the app: a second definition throws at import.
 * `extensions` types the extra members the problem carries for this code; the OpenAPI document
 * shows them on the code's own problem schema.
 */
export function defineError<S extends TObject | undefined = undefined>(
  code: string,
  status: number,
  title: string,
  extensions?: S,
): ErrorClass<S> {
  if (!/^[a-z][a-z0-9_]*$/.test(code)) throw new Error(`error code must be snake_case: ${code}`);
  if (registry.has(code)) throw new Error(`error code defined twice: ${code}`);
  registry.set(code, { status, title, extensions });
  const def = { code, status, title };
  return class extends AppError {
    static readonly code = code;
    static readonly status = status;
    static readonly title = title;
    static readonly extensions = extensions as S;
    constructor(detail?: string, opts?: ProblemOptions<ExtensionsOf<S>>) {
      super(def, detail, opts);
    }
  };
}

/** The component name of a code's problem schema: insufficient_funds -> InsufficientFundsProblem. */
export const problemSchemaId = (code: string): string =>
  `${code.replace(/(^|_)([a-z0-9])/g, (_m, _u, c: string) => c.toUpperCase())}Problem`;

/**
 * One schema per code, shared under components: the Problem members, `code` as an enum of that one
 * code (a literal in generated clients) and the code's typed extensions.
 */
export function codeProblemSchemas(): Record<string, unknown>[] {
  // Sorted by code, so the document does not depend on the order in which modules load.
  return [...registry]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([code, d]) => {
      const ext = d.extensions;
      return {
        $id: problemSchemaId(code),
        description: `${d.title} (HTTP ${d.status}, code ${code})`,
        allOf: [
          { $ref: 'Problem' },
          {
            type: 'object',
            required: ['code', ...((ext?.required as string[] | undefined) ?? [])],
            properties: { code: { type: 'string', enum: [code] }, ...(ext?.properties ?? {}) },
          },
        ],
      };
    });
}

// Errors the foundation itself raises.
export const ValidationFailed = defineError('validation_failed', 422, 'The request does not match the schema');
export const MalformedJson = defineError('malformed_json', 400, 'The request body is not valid JSON');
export const BadRequest = defineError('bad_request', 400, 'Bad request');
export const RouteNotFound = defineError('route_not_found', 404, 'No such route');
export const MethodNotAllowed = defineError('method_not_allowed', 405, 'Method not allowed on this route');
export const PayloadTooLarge = defineError('payload_too_large', 413, 'Request body too large');
export const UnsupportedMediaType = defineError('unsupported_media_type', 415, 'Unsupported content type');
export const InternalError = defineError('internal_error', 500, 'Internal server error');
export const ServiceUnavailable = defineError('service_unavailable', 503, 'Service unavailable');
export const NotFound = defineError('not_found', 404, 'Not found');
// Refused by the HTTP layer before a route runs (problem-json's framework and client error handlers).
export const InvalidUrlEncoding = defineError('invalid_url_encoding', 400, 'The URL is not validly percent-encoded');
export const UriTooLong = defineError('uri_too_long', 414, 'A path segment of the URL is too long');
export const HeadersTooLarge = defineError('headers_too_large', 431, 'The request headers are too large');
export const MalformedRequest = defineError('malformed_request', 400, 'The request is not valid HTTP');
export const RequestTimeout = defineError('request_timeout', 408, 'The request was not received in time');
export const RateLimited = defineError(
  'rate_limited',
  429,
  'Rate limit exceeded',
  Type.Object({
    retry_after_seconds: Type.Integer({
      minimum: 0,
      maximum: 2_147_483_647,
      description: 'Seconds until a retry can succeed (also Retry-After)',
    }),
    name: Type.Optional(Type.String({ description: 'The domain name checked too often (R-DOM-4)' })),
    reason: Type.Optional(Type.Literal('drop_catch_throttle')),
  }),
);

const STATUS_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request',
  401: 'Not authenticated',
  402: 'Payment required',
  403: 'Not permitted',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  409: 'Conflict with the current state',
  413: 'Body too large',
  414: 'URI too long',
  415: 'Unsupported content type',
  422: 'Validation failed',
  429: 'Rate limited',
  431: 'Headers too large',
  500: 'Internal error',
  503: 'Unavailable',
};

// The responses for one set of codes, built once: every route and plugin asks again for the same
// sets at every app build. The entries are shared, and nothing writes to them.
const responsesFor = new Map<string, Record<number, unknown>>();

/**
 * Route response entries for these errors, as fastify + @fastify/swagger read them: one entry per
 * status whose schema allows exactly the codes of that status (one code: its problem schema; several:
 * oneOf them with a discriminator on `code`).
 */
export function problemResponses(errors: Iterable<ErrorClass>): Record<number, unknown> {
  const classes = [...errors];
  const key = classes
    .map((e) => `${e.status} ${e.code}`)
    .sort()
    .join(',');
  let out = responsesFor.get(key);
  if (!out) responsesFor.set(key, (out = buildProblemResponses(classes)));
  return out;
}

function buildProblemResponses(errors: ErrorClass[]): Record<number, unknown> {
  const byStatus = new Map<number, Set<string>>();
  for (const e of errors) {
    let codes = byStatus.get(e.status);
    if (!codes) byStatus.set(e.status, (codes = new Set()));
    codes.add(e.code);
  }
  const out: Record<number, unknown> = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const codes = [...byStatus.get(status)!].sort();
    const schema =
      codes.length === 1
        ? { $ref: problemSchemaId(codes[0]!) }
        : {
            oneOf: codes.map((c) => ({ $ref: problemSchemaId(c) })),
            discriminator: {
              propertyName: 'code',
              mapping: Object.fromEntries(codes.map((c) => [c, `#/components/schemas/${problemSchemaId(c)}`])),
            },
          };
    out[status] = {
      description: `${STATUS_DESCRIPTIONS[status] ?? 'Error'}: ${codes.join(', ')}`,
      content: { [PROBLEM_CONTENT_TYPE]: { schema } },
    };
  }
  return out;
}

declare module 'fastify' {
  interface FastifySchema {
    /** The error codes this route can answer besides those the cross-cutting plugins add (declareErrors). */
    errors?: readonly ErrorClass[];
  }
  interface FastifyContextConfig {
    /** Every code the route declares, its own and the plugins'; set by declareErrors. */
    errorCodes?: ReadonlySet<string>;
  }
}

const declaredFor = new WeakMap<object, Set<ErrorClass>>();
/** The response entries declareErrors wrote, told apart from those a route or plugin wrote itself. */
const generated = new WeakSet<object>();

/**
 * Adds codes a route can answer (plugins call it from onRoute for what they raise there) and
 * rebuilds the route's problem responses from everything declared so far, the route's own
 * `schema.errors` included, so the order of the plugins' onRoute hooks does not matter. A response
 * the route itself gives for a status (readiness's 503 body) is kept.
 */
export function declareErrors(route: { schema?: FastifySchemaLike; config?: unknown }, ...errors: ErrorClass[]): void {
  const schema = route.schema;
  if (!schema) return;
  let declared = declaredFor.get(schema);
  if (!declared) declaredFor.set(schema, (declared = new Set(schema.errors ?? [])));
  for (const e of errors) declared.add(e);
  const own = Object.entries((schema.response ?? {}) as Record<string, object>).filter(([, r]) => !generated.has(r));
  const problems = problemResponses(declared) as Record<string, object>;
  for (const entry of Object.values(problems)) generated.add(entry);
  schema.response = { ...problems, ...Object.fromEntries(own) };
  route.config = {
    ...(route.config as object | undefined),
    errorCodes: new Set([...declared].map((e) => e.code)),
  };
}

interface FastifySchemaLike {
  errors?: readonly ErrorClass[];
  response?: unknown;
}

/** 422 validation_failed naming one field (a JSON pointer into the request) and why. */
export const invalidField = (pointer: string, code: string, message: string): never => {
  throw new ValidationFailed(message, { errors: [{ pointer, code, message }] });
};
