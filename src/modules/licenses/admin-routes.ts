// /v1/admin/licenses: operators list licenses by multi-use state, import address reports in bulk,
// clear a false detection, waive a charge, and edit the catalogue and the vendors' policies.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { BigIntId, DateTime, IdParams, named, Page, PageQuery, Uuid } from '../../schemas.js';
import type { LicenseService } from './license-service.js';
import { LicenseStateConflict } from './license-service.js';
import type { LicenseView } from './license-view.js';
import { productView } from './license-routes.js';
import {
  IpAddress,
  License,
  LicenseProduct,
  MultiUseCharge,
  PolicyKind,
  ProductPrice,
  strict,
  Vendor,
  VendorPolicy,
} from './schemas.js';
import type { LicenseAdmin } from './admin-service.js';

const AdminLicense = named('AdminPleskLicense', Type.Object({ account_id: Uuid, license: License }, strict));
const AdminLicenseList = Page(AdminLicense);
const Note = Type.Object({ note: Type.String({ minLength: 1, maxLength: 2000 }) }, strict);
const ImportBody = Type.Object(
  {
    reports: Type.Array(
      Type.Object(
        {
          license_id: Uuid,
          addresses: Type.Array(IpAddress, { minItems: 1, maxItems: 64 }),
          seen_at: Type.Optional(DateTime),
        },
        strict,
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  strict,
);
const ImportResult = Type.Object(
  {
    imported: Type.Integer({ minimum: 0, maximum: 1000 }),
    detected: Type.Array(Uuid, { description: 'Licenses that became potential_multi_use with this import' }),
    not_found: Type.Array(Uuid),
  },
  strict,
);

export const adminLicenseRoutes: FastifyPluginAsyncTypebox<{ licenses: LicenseService; admin: LicenseAdmin }> = async (
  app,
  { licenses, admin },
) => {
  app.get(
    '/v1/admin/licenses',
    {
      schema: {
        operationId: 'adminListLicenses',
        tags: ['admin'],
        summary: 'Licenses in a multi-use state (R-LIC-2), newest first: potential, confirmed, or both (default)',
        querystring: Type.Object(
          { ...PageQuery, multi_use: Type.Optional(Type.Enum(['potential', 'confirmed'])) },
          strict,
        ),
        response: { 200: AdminLicenseList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const rows = await admin.listByMultiUse(req.query.multi_use, limit, cursor.position({ id: 'uuid' })?.id);
      return cursor.page(
        rows,
        limit,
        (r) => ({ id: r.license.id }),
        (r: { account_id: string; license: LicenseView }) => r,
      );
    },
  );

  app.post(
    '/v1/admin/licenses/ip-reports',
    {
      schema: {
        operationId: 'adminImportLicenseReports',
        tags: ['admin'],
        summary: 'Import address reports in bulk (from the vendor), up to 1,000 at once',
        body: ImportBody,
        response: { 200: ImportResult },
      },
    },
    async (req) => {
      // One license's reports in their order; different licenses side by side, so their reports
      // share statements (a few hundred reports take a few round trips, not one each).
      const byLicense = new Map<string, number[]>();
      for (const [i, r] of req.body.reports.entries()) {
        const own = byLicense.get(r.license_id);
        if (own) own.push(i);
        else byLicense.set(r.license_id, [i]);
      }
      const outcome: ('imported' | 'detected' | 'not_found')[] = [];
      await Promise.all(
        [...byLicense.values()].map(async (indexes) => {
          for (const i of indexes) {
            const r = req.body.reports[i]!;
            try {
              const done = await licenses.report(null, r.license_id, r.addresses, 'operator', {
                seenAt: r.seen_at ? new Date(r.seen_at) : undefined,
              });
              outcome[i] = done.detected ? 'detected' : 'imported';
            } catch (err) {
              if (err instanceof NotFound || err instanceof LicenseStateConflict) outcome[i] = 'not_found';
              else throw err;
            }
          }
        }),
      );
      const licensesWith = (what: (typeof outcome)[number]) =>
        req.body.reports.filter((_, i) => outcome[i] === what).map((r) => r.license_id);
      return {
        imported: outcome.filter((o) => o !== 'not_found').length,
        detected: licensesWith('detected'),
        not_found: licensesWith('not_found'),
      };
    },
  );

  app.post(
    '/v1/admin/licenses/:id/multi-use/clear',
    {
      schema: {
        operationId: 'adminClearLicenseMultiUse',
        tags: ['admin'],
        summary: 'Clear a multi-use detection as false, with a note (event license.multi_use_cleared)',
        params: IdParams,
        body: Note,
        errors: [NotFound, LicenseStateConflict],
        response: { 200: License },
      },
    },
    async (req) => {
      req.audit = { targetType: 'license', targetId: req.params.id };
      return admin.clear(req.params.id, req.body.note);
    },
  );

  app.post(
    '/v1/admin/licenses/multi-use-charges/:id/waive',
    {
      schema: {
        operationId: 'adminWaiveLicenseCharge',
        tags: ['admin'],
        summary: 'Waive a multi-use charge: refunded to the balance when it was collected',
        params: Type.Object({ id: BigIntId() }, strict),
        body: Note,
        errors: [NotFound, LicenseStateConflict],
        response: { 200: MultiUseCharge },
      },
    },
    async (req) => {
      req.audit = { targetType: 'license_charge', targetId: String(req.params.id) };
      return admin.waive(req.params.id, req.principal!.userId, req.body.note);
    },
  );

  app.put(
    '/v1/admin/licenses/products/:id',
    {
      schema: {
        operationId: 'adminSetLicenseProduct',
        tags: ['admin'],
        summary: 'Add or change a product of the catalogue, with its prices (they replace the old ones)',
        params: Type.Object({ id: Type.String({ pattern: '^[A-Z0-9][A-Z0-9-]{1,79}$' }) }, strict),
        body: Type.Object(
          {
            kind: Type.Enum(['edition', 'extra', 'overage']),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            active: Type.Boolean(),
            prices: Type.Array(ProductPrice, { maxItems: 40 }),
          },
          strict,
        ),
        response: { 200: LicenseProduct },
      },
    },
    async (req) => {
      req.audit = { targetType: 'license_product', targetId: req.params.id };
      return productView(await admin.setProduct(req.params.id, req.body));
    },
  );

  app.post(
    '/v1/admin/licenses/policies',
    {
      schema: {
        operationId: 'adminPublishVendorPolicy',
        tags: ['admin'],
        summary: "Publish a new version of a vendor's policy (announced as vendor_policy.published)",
        description:
          'A new EULA version becomes the one orders must accept (R-LIC-1). The event goes to every account holding a live license of that vendor.',
        body: Type.Object(
          {
            vendor: Vendor,
            kind: PolicyKind,
            version: Type.String({ minLength: 1, maxLength: 50 }),
            url: Type.String({ format: 'uri', maxLength: 500, pattern: '^https://' }),
          },
          strict,
        ),
        errors: [LicenseStateConflict],
        response: { 201: VendorPolicy },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'vendor_policy', targetId: `${req.body.vendor}:${req.body.kind}:${req.body.version}` };
      return reply.code(201).send(await admin.publishPolicy(req.body));
    },
  );
};
