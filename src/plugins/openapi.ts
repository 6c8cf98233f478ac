// The OpenAPI 3.1 document, generated from the route schemas, at /openapi.json and /docs. It also
// refuses to start an app with a public route that lacks what an SDK generator needs.
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { namedSchemas } from '../schemas.js';
import { SECURITY_SCHEMES } from './auth.js';
import { polishDocument } from './openapi/polish-document.js';
import { webhooksDocument } from '../modules/events/api.js';
import { PROBLEM_CONTENT_TYPE, problemSchemaId } from '../errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  description: string;
};

const OPERATION_ID = /^[a-z][A-Za-z0-9]*$/;

const DESCRIPTION = `${pkg.description}.

## Conventions
- JSON only, base path \`/v1\`; \`snake_case\` names in bodies.
- Errors are RFC 9457 \`application/problem+json\` with a stable \`code\` to switch on and a \`request_id\`.
  Each operation lists, per status, exactly the codes it can answer (one schema per code, \`XxxProblem\`,
  with the code's own typed members); a generated client can switch on \`code\` exhaustively. A method a
  path does not have answers 405 \`method_not_allowed\` with \`Allow\`, an unknown path 404
  \`route_not_found\` (the shared responses MethodNotAllowed and RouteNotFound).
  Validation errors (422 \`validation_failed\`) list \`errors: [{pointer, code, message}]\`, where
  \`pointer\` is a JSON Pointer rooted at the request part: \`/body/...\`, \`/query/...\`, \`/params/...\`.
- Send \`X-Request-Id\` (8-128 characters of \`A-Za-z0-9._:@-\`) to have your id used in our logs; every
  response echoes the id in use.
- Money is \`{amount, currency}\` with \`amount\` in integer minor units; times are RFC 3339 UTC.
`;

// The reference page loads only its own assets (served locally under /docs/static) and this
// server's document; nothing inline but styles, which swagger-ui sets on its elements.
const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
].join('; ');

// Answers that belong to no operation: a method the path lacks, a path that does not exist.
const NO_OPERATION_RESPONSES = {
  MethodNotAllowed: {
    description: 'The path exists, but not with this method (code method_not_allowed)',
    headers: { Allow: { description: 'The methods the path takes', schema: { type: 'string' } } },
    content: {
      [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `#/components/schemas/${problemSchemaId('method_not_allowed')}` } },
    },
  },
  RouteNotFound: {
    description: 'No such path (code route_not_found)',
    content: {
      [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `#/components/schemas/${problemSchemaId('route_not_found')}` } },
    },
  },
} as unknown as Record<string, never>;

export interface OpenApiOptions {
  publicUrl: string | undefined;
}

export default fp<OpenApiOptions>(
  async function openapiPlugin(app, opts) {
    for (const schema of namedSchemas()) app.addSchema(schema);
    app.addHook('onRoute', (route) => {
      const s = route.schema;
      if (s?.hide) return;
      const where = `${String(route.method)} ${route.url}`;
      if (!s) throw new Error(`${where}: every route needs a schema`);
      if (typeof s.operationId !== 'string' || !OPERATION_ID.test(s.operationId))
        throw new Error(`${where}: operationId must be camelCase`);
      if (!Array.isArray(s.tags) || s.tags.length === 0) throw new Error(`${where}: tags are required`);
      if (typeof s.summary !== 'string') throw new Error(`${where}: summary is required`);
      if (!Array.isArray(s.security))
        throw new Error(`${where}: security must be declared (the auth plugin derives it from config.permission)`);
      const statuses = Object.keys(s.response ?? {});
      if (!statuses.some((c) => /^2\d\d$/.test(c))) throw new Error(`${where}: a 2xx response schema is required`);
    });

    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'reseller-api',
          version: pkg.version,
          description: DESCRIPTION,
          license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' } as { name: string },
        },
        servers: [
          {
            url: opts.publicUrl ?? '/',
            description: opts.publicUrl ? 'This deployment' : 'The server that serves this document',
          },
        ],
        tags: [
          { name: 'health', description: 'Liveness, readiness and this document' },
          { name: 'auth', description: 'Login, logout and sessions' },
          { name: 'account', description: 'Your reseller account and its IP allowlist' },
          { name: 'users', description: 'One login per person: users, passwords, two-factor' },
          { name: 'api-keys', description: 'API keys with scopes; bearer or HMAC-signed requests' },
          { name: 'audit', description: 'The audit trail of changes' },
          { name: 'billing', description: 'Balance and ledger' },
          { name: 'fair-use', description: 'Rate limits, costs and your standing' },
          { name: 'domains', description: 'TLD catalogue, checks, registrations, transfers' },
          { name: 'servers', description: 'Your servers: what a Plesk license is attached to' },
          { name: 'licenses', description: 'Plesk licenses, their multi-use state, the catalogue and vendor policies' },
          { name: 'events', description: 'The events feed and the catalogue of event types' },
          {
            name: 'webhooks',
            description: 'Webhook endpoints, deliveries, replays (and, under webhooks, what we send)',
          },
          { name: 'notifications', description: 'E-mail recipients of event notifications' },
          { name: 'admin', description: 'Operator (provider staff) routes' },
        ],
        components: {
          securitySchemes: SECURITY_SCHEMES as unknown as Record<string, never>,
          responses: NO_OPERATION_RESPONSES,
        },
      },
      // Shared schemas keep their $id as their component name, so generated SDKs get `Problem`, not `def-0`.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
      transformObject: (doc) => {
        const document = 'openapiObject' in doc ? doc.openapiObject : doc.swaggerObject;
        // What we send to webhook endpoints, per event type (OpenAPI 3.1 webhooks).
        (document as Record<string, unknown>).webhooks = webhooksDocument();
        return polishDocument(document);
      },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { deepLinking: true, validatorUrl: null },
      staticCSP: DOCS_CSP,
    });

    app.get(
      '/openapi.json',
      {
        schema: {
          operationId: 'getOpenApiDocument',
          tags: ['health'],
          summary: 'This OpenAPI 3.1 document',
          response: { 200: Type.Object({}, { additionalProperties: true, description: 'OpenAPI 3.1 document' }) },
        },
        config: { rateLimitExempt: true },
      },
      async () => app.swagger(),
    );
  },
  { name: 'openapi', fastify: '5.x' },
);
