// The contact handle as the API shows it (R-DOM-1), and the fields a request sets.
import { Type } from 'typebox';
import { DateTime, named, Page } from '../../schemas.js';
import { Country, Email, Phone } from '../accounts/api.js';

const strict = { additionalProperties: false } as const;
export const contactFields = {
  name: Type.String({ minLength: 1, maxLength: 255 }),
  organisation: Type.String({ maxLength: 255 }),
  email: Email,
  phone: Phone,
  country: Country,
  street: Type.Array(Type.String({ maxLength: 255 }), { minItems: 1, maxItems: 3 }),
  city: Type.String({ minLength: 1, maxLength: 255 }),
  state: Type.String({ maxLength: 255 }),
  postal_code: Type.String({
    minLength: 1,
    maxLength: 16,
    pattern: '^[A-Za-z0-9][A-Za-z0-9 -]*$',
    examples: ['10117'],
  }),
};
const Warning = Type.Object({ code: Type.Literal('reseller_data_as_contact'), message: Type.String() }, strict);
export const Contact = named(
  'Contact',
  Type.Object(
    {
      handle: Type.String(),
      ...contactFields,
      created_at: DateTime,
      updated_at: DateTime,
      warnings: Type.Array(Warning, { description: 'Data problems worth a look; they do not block the request' }),
    },
    {
      ...strict,
      description: 'A contact handle: a person or organisation named on domains',
      examples: [
        {
          handle: 'RA-7K2M9X4Q1Z',
          name: 'Jane Customer',
          organisation: 'Customer Ltd',
          email: 'jane@customer.test',
          phone: '+44.2071234567',
          country: 'GB',
          street: ['1 High Street'],
          city: 'London',
          state: '',
          postal_code: 'EC1A 1BB',
          created_at: '2026-03-01T08:00:00.000Z',
          updated_at: '2026-03-01T08:00:00.000Z',
          warnings: [],
        },
      ],
    },
  ),
);
export const ContactList = Page(Contact);
