// The notifications area's coded errors.
import { defineError } from '../../errors.js';

export const RecipientNotAUser = defineError(
  'recipient_not_a_user',
  422,
  'A recipient user id is not an active user of your account',
);
