// What makes two commands "the same": method, route, and the canonical JSON of path parameters,
// query and body (key order and whitespace do not count). Idempotency keys and the R-API-2 guard
// both compare commands this way.
import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export interface CommandParts {
  params?: unknown;
  query?: unknown;
  body?: unknown;
}

export function commandFingerprint(method: string, route: string, parts: CommandParts): string {
  return hash(
    'sha256',
    `${method} ${route}\n${canonicalJson({ params: parts.params ?? {}, query: parts.query ?? {}, body: parts.body ?? null })}`,
    'hex',
  );
}
