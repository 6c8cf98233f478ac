// Coded errors: one definition = one stable `code` + one HTTP status. Handlers throw them; the
// error-handler plugin renders every error as RFC 9457 application/problem+json.
import { Type, type Static } from 'typebox';

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

export interface ErrorClass {
  new (detail?: string, opts?: ConstructorParameters<typeof AppError>[2]): AppError;
  readonly code: string;
  readonly status: number;
}

const registry = new Map<string, { status: number; title: string }>();

/** Declares a coded error. Codes are unique across the app: a second definition throws at import. */
export function defineError(code: string, status: number, title: string): ErrorClass {
  if (!/^[a-z][a-z0-9_]*$/.test(code)) throw new Error(`error code must be snake_case: ${code}`);
  if (registry.has(code)) throw new Error(`error code defined twice: ${code}`);
  registry.set(code, { status, title });
  const def = { code, status, title };
  return class extends AppError {
    static readonly code = code;
    static readonly status = status;
    constructor(detail?: string, opts?: ConstructorParameters<typeof AppError>[2]) {
      super(def, detail, opts);
    }
  };
}

/** Every declared code with its status and title, for the OpenAPI description. */
export const declaredErrors = (): ReadonlyMap<string, { status: number; title: string }> => registry;

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
export const Conflict = defineError('conflict', 409, 'Conflict');
// Refused by the HTTP layer before a route runs (problem-json's framework and client error handlers).
export const InvalidUrlEncoding = defineError('invalid_url_encoding', 400, 'The URL is not validly percent-encoded');
export const UriTooLong = defineError('uri_too_long', 414, 'A path segment of the URL is too long');
export const HeadersTooLarge = defineError('headers_too_large', 431, 'The request headers are too large');
export const MalformedRequest = defineError('malformed_request', 400, 'The request is not valid HTTP');
export const RequestTimeout = defineError('request_timeout', 408, 'The request was not received in time');

/** Route response entries for problem statuses, as fastify + @fastify/swagger read them. */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const status of statuses) {
    out[status] = {
      description: problemDescription(status),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref('Problem') } },
    };
  }
  return out;
}

function problemDescription(status: number): string {
  const codes = [...registry].filter(([, d]) => d.status === status).map(([c]) => c);
  const known: Record<number, string> = {
    400: 'Malformed request',
    401: 'Not authenticated',
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
  return `${known[status] ?? 'Error'} (problem+json${codes.length ? `; codes include ${codes.join(', ')}` : ''})`;
}
export const RateLimited = defineError('rate_limited', 429, 'Rate limit exceeded');
