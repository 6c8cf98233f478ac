// Pagination for every list: `app.listCursor(req)` gives the request's cursor codec, keyed (from
// MASTER_KEY) for this route, this tenant and these filters, so a cursor works only on the list
// and for the account that received it. A cursor that does not verify is 400 invalid_cursor.
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { declareErrors, defineError } from '../errors.js';
import { canonicalJson } from '../lib/canonical-json.js';
import {
  decodeCursor,
  encodeCursor,
  type CursorSigner,
  type Position,
  type PositionShape,
  type PositionValues,
} from '../lib/cursor.js';

/** A list's page size when the query names none (PageQuery's default). */
export const DEFAULT_PAGE_SIZE = 50;

/** The page size a list query asks for. Fetch one row more than this: `page()` tells from it whether more follow. */
export const pageSize = (query: { limit?: number | undefined }): number => query.limit ?? DEFAULT_PAGE_SIZE;

export const InvalidCursor = defineError('invalid_cursor', 400, 'The cursor is not one this API issued for this list');

export interface ListCursor {
  /** The position the request's `cursor` names; undefined without one (or empty); 400 invalid_cursor when it does not verify. */
  position<S extends PositionShape>(shape: S): Position<S> | undefined;
  /** `{data, next_cursor}` from rows fetched with limit + 1; the cursor holds `position(last row served)`. */
  page<R, O>(
    rows: R[],
    limit: number,
    position: (row: R) => PositionValues,
    view: (row: R) => O,
  ): { data: O[]; next_cursor: string | null };
}

declare module 'fastify' {
  interface FastifyInstance {
    listCursor(req: FastifyRequest): ListCursor;
  }
}

export default fp(
  async function cursorsPlugin(app) {
    // Every list takes `cursor` in its query (PageQuery).
    app.addHook('onRoute', (route) => {
      const query = route.schema?.querystring as { properties?: Record<string, unknown> } | undefined;
      if (route.schema && !route.schema.hide && query?.properties?.cursor) declareErrors(route, InvalidCursor);
    });
    app.decorate('listCursor', (req: FastifyRequest): ListCursor => {
      const query = (req.query ?? {}) as Record<string, unknown>;
      const { cursor, limit: _limit, ...filters } = query;
      // The page size may change between pages; the list, the tenant and the filters may not.
      const binding = canonicalJson({
        list: `${req.method === 'HEAD' ? 'GET' : req.method} ${req.routeOptions.url}`,
        tenant: req.principal?.accountId ?? 'operator',
        filters,
      });
      let signer: CursorSigner | undefined;
      const signerOf = () => (signer ??= app.secretBox.signer(`list-cursor ${binding}`));
      return {
        position(shape) {
          if (typeof cursor !== 'string' || cursor === '') return undefined;
          const position = decodeCursor(signerOf(), cursor, shape);
          if (!position)
            throw new InvalidCursor(
              'The cursor was not issued for this list, this account and these filters; start again without it',
            );
          return position;
        },
        page(rows, limit, position, view) {
          const more = rows.length > limit;
          const items = more ? rows.slice(0, limit) : rows;
          const last = items.at(-1);
          return {
            data: items.map(view),
            next_cursor: more && last !== undefined ? encodeCursor(signerOf(), position(last)) : null,
          };
        },
      };
    });
  },
  { name: 'cursors', fastify: '5.x', dependencies: ['secrets'] },
);
