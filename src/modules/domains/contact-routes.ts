// /v1/contacts: contact handles for customers' domains (R-DOM-1).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { DateTime, Page, PageQuery } from '../../schemas.js';
import { Country, Email, Phone } from '../accounts/schemas.js';
import { getAccount, tenantOf } from '../accounts/service.js';
import {
  type ContactInput,
  ContactInUse,
  type ContactRow,
  createContact,
  deleteContact,
  getContact,
  listContacts,
  resellerDataWarnings,
  updateContact,
} from './contact-service.js';
import { NotFound } from '../../errors.js';

const strict = { additionalProperties: false } as const;
const fields = {
  name: Type.String({ minLength: 1, maxLength: 255 }),
  organisation: Type.String({ maxLength: 255 }),
  email: Email,
  phone: Phone,
  country: Country,
  street: Type.Array(Type.String({ maxLength: 255 }), { minItems: 1, maxItems: 3 }),
  city: Type.String({ minLength: 1, maxLength: 255 }),
  state: Type.String({ maxLength: 255 }),
  postal_code: Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z0-9][A-Za-z0-9 -]*$' }),
};
const CreateContactBody = Type.Object(
  { ...fields, organisation: Type.Optional(fields.organisation), state: Type.Optional(fields.state) },
  strict,
);
const ContactPatch = Type.Partial(Type.Object(fields, strict), { ...strict, minProperties: 1 });

const Warning = Type.Object({ code: Type.Literal('reseller_data_as_contact'), message: Type.String() }, strict);
const Contact = Type.Object(
  {
    handle: Type.String(),
    ...fields,
    created_at: DateTime,
    updated_at: DateTime,
    warnings: Type.Array(Warning, { description: 'Data problems worth a look; they do not block the request' }),
  },
  strict,
);
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

export const contactRoutes: FastifyPluginAsyncTypebox = async (app) => {
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
    warnings: resellerDataWarnings(c, await getAccount(app.db, c.accountId)),
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
      const row = await createContact(app.db, tenantOf(req.principal), {
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
      const limit = req.query.limit ?? 50;
      const cursor = app.listCursor(req);
      const rows = await listContacts(app.db, tenantOf(req.principal), {
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
    async (req) => view(await getContact(app.db, tenantOf(req.principal), req.params.handle)),
  );

  app.patch(
    '/v1/contacts/:handle',
    {
      schema: {
        operationId: 'updateContact',
        tags: ['domains'],
        summary: 'Update a contact handle',
        params: HandleParams,
        body: ContactPatch,
        errors: [NotFound],
        response: { 200: Contact },
      },
    },
    async (req) => {
      const row = await updateContact(app.db, tenantOf(req.principal), req.params.handle, fromBody(req.body));
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
      await deleteContact(app.db, tenantOf(req.principal), req.params.handle);
      req.audit = { targetType: 'contact', targetId: req.params.handle };
      return reply.code(204).send(null);
    },
  );
};
