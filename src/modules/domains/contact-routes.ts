// /v1/contacts: contact handles for customers' domains (R-DOM-1).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { pageSize } from '../../plugins/cursors.js';
import { Page, PageQuery } from '../../schemas.js';
import { Contact, contactFields as fields } from './contact-schemas.js';
import { tenantOf, type AccountReader } from '../accounts/api.js';
import { resellerDataWarnings, type ContactInput, type ContactRow, type ContactService } from './contact-service.js';
import { ContactInUse } from './contact-service.js';
import { NotFound } from '../../errors.js';

const strict = { additionalProperties: false } as const;
const CreateContactBody = Type.Object(
  { ...fields, organisation: Type.Optional(fields.organisation), state: Type.Optional(fields.state) },
  strict,
);
const ContactPatch = Type.Partial(Type.Object(fields, strict), { ...strict, minProperties: 1 });

const HandleParams = Type.Object({ handle: Type.String({ pattern: '^RA-[A-Z0-9]{10}$' }) }, strict);

function fromBody(b: Partial<Static<typeof CreateContactBody>>): Partial<ContactInput> {
  return {
    name: b.name,
    organisation: b.organisation,
    email: b.email,
    phone: b.phone,
    country: b.country,
    street: b.street,
    city: b.city,
    state: b.state,
    postalCode: b.postal_code,
  };
}

export const contactRoutes: FastifyPluginAsyncTypebox<{ contacts: ContactService; accounts: AccountReader }> = async (
  app,
  { contacts, accounts },
) => {
  const view = async (c: ContactRow): Promise<Static<typeof Contact>> => ({
    handle: c.handle,
    name: c.name,
    organisation: c.organisation,
    email: c.email,
    phone: c.phone,
    country: c.country,
    street: c.street,
    city: c.city,
    state: c.state,
    postal_code: c.postalCode,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    warnings: resellerDataWarnings(c, await accounts.getAccount(c.accountId)),
  });

  app.post(
    '/v1/contacts',
    {
      schema: {
        operationId: 'createContact',
        tags: ['domains'],
        summary: 'Create a contact handle; every field is validated',
        body: CreateContactBody,
        errors: [NotFound],
        response: { 201: Contact },
      },
    },
    async (req, reply) => {
      const row = await contacts.createContact(tenantOf(req.principal), {
        organisation: '',
        state: '',
        ...fromBody(req.body),
      } as ContactInput);
      req.audit = { targetType: 'contact', targetId: row.handle };
      return reply.code(201).send(await view(row));
    },
  );

  app.get(
    '/v1/contacts',
    {
      schema: {
        operationId: 'listContacts',
        tags: ['domains'],
        summary: 'Your contact handles',
        querystring: Type.Object(PageQuery, strict),
        errors: [NotFound],
        response: { 200: Page(Contact) },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const rows = await contacts.listContacts(tenantOf(req.principal), {
        limit,
        after: cursor.position({ handle: { text: 64 } })?.handle,
      });
      const p = cursor.page(
        rows,
        limit,
        (c) => ({ handle: c.handle }),
        (c) => c,
      );
      return { data: await Promise.all(p.data.map(view)), next_cursor: p.next_cursor };
    },
  );

  app.get(
    '/v1/contacts/:handle',
    {
      schema: {
        operationId: 'getContact',
        tags: ['domains'],
        summary: 'One contact handle',
        params: HandleParams,
        errors: [NotFound],
        response: { 200: Contact },
      },
    },
    async (req) => view(await contacts.getContact(tenantOf(req.principal), req.params.handle)),
  );

  app.patch(
    '/v1/contacts/:handle',
    {
      schema: {
        operationId: 'updateContact',
        tags: ['domains'],
        summary: 'Update a contact handle',
        description:
          'R-DOM-1: a change that would take a domain the contact owns (or an open transfer in) out of its TLD’s owner rule (e.g. .eu owners in the EU) is 422 with a field error contact_not_eligible at /body/country naming the domains.',
        params: HandleParams,
        body: ContactPatch,
        errors: [NotFound],
        response: { 200: Contact },
      },
    },
    async (req) => {
      const row = await contacts.updateContact(tenantOf(req.principal), req.params.handle, fromBody(req.body));
      req.audit = { targetType: 'contact', targetId: row.handle };
      return view(row);
    },
  );

  app.delete(
    '/v1/contacts/:handle',
    {
      schema: {
        operationId: 'deleteContact',
        tags: ['domains'],
        summary: 'Delete a contact handle',
        params: HandleParams,
        errors: [NotFound, ContactInUse],
        response: { 204: Type.Null({ description: 'Deleted' }) },
      },
    },
    async (req, reply) => {
      await contacts.deleteContact(tenantOf(req.principal), req.params.handle);
      req.audit = { targetType: 'contact', targetId: req.params.handle };
      return reply.code(204).send(null);
    },
  );
};
