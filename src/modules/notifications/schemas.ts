// The e-mail notification recipients of an account, per group of event types, as the API shows them.
import { Type } from 'typebox';
import { DateTime, named, Uuid } from '../../schemas.js';
import { Email } from '../accounts/api.js';
import { EVENT_GROUPS } from '../events/api.js';

/** At most this many users and this many addresses per group. */
export const MAX_RECIPIENTS = 20;

const Group = Type.Enum([...EVENT_GROUPS], {
  description: "A group of event types (GET /v1/event-types shows each type's group)",
});

export const RecipientGroup = named(
  'NotificationRecipientGroup',
  Type.Object(
    {
      group: Group,
      user_ids: Type.Array(Uuid, {
        description: 'Active users of the account; each gets the e-mail at the address their user has when it is sent',
      }),
      addresses: Type.Array(Email, { description: 'Further e-mail addresses' }),
      updated_at: Type.Union([DateTime, Type.Null()], { description: 'Null: never set (nobody)' }),
    },
    { additionalProperties: false },
  ),
);

export const RecipientList = Type.Object(
  {
    email_enabled: Type.Boolean({
      description:
        'Whether this installation sends e-mail (SMTP_URL is set). When false, recipients are kept but nothing is sent',
    }),
    data: Type.Array(RecipientGroup, { description: 'Every group, in catalogue order' }),
  },
  { additionalProperties: false },
);

export const GroupParams = Type.Object({ group: Group }, { additionalProperties: false });

export const RecipientsBody = Type.Object(
  {
    user_ids: Type.Array(Uuid, {
      maxItems: MAX_RECIPIENTS,
      description: `Active users of your account (at most ${MAX_RECIPIENTS}); empty: none`,
    }),
    addresses: Type.Array(Email, {
      maxItems: MAX_RECIPIENTS,
      description: `E-mail addresses (at most ${MAX_RECIPIENTS}); empty: none`,
    }),
  },
  { additionalProperties: false },
);
