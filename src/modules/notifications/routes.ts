// /v1/notification-recipients: who of the account gets e-mail about which group of event types.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFound } from '../../errors.js';
import { tenantOf } from '../accounts/api.js';
import { RecipientNotAUser } from './errors.js';
import type { Recipients, RecipientService } from './recipient-service.js';
import { GroupParams, RecipientGroup, RecipientList, RecipientsBody } from './schemas.js';

const view = (r: Recipients) => ({
  group: r.group,
  user_ids: r.userIds,
  addresses: r.addresses,
  updated_at: r.updatedAt ? r.updatedAt.toISOString() : null,
});

export const notificationRoutes: FastifyPluginAsyncTypebox<{
  recipients: RecipientService;
  emailEnabled: boolean;
}> = async (app, { recipients, emailEnabled }) => {
  app.get(
    '/v1/notification-recipients',
    {
      schema: {
        operationId: 'listNotificationRecipients',
        tags: ['events'],
        summary: 'Who gets e-mail about each group of event types',
        description:
          'Every group of event types with its recipients: users of the account (mailed at their current address) and further addresses. `email_enabled` is false when this installation sends no e-mail (SMTP_URL unset).',
        errors: [NotFound],
        response: { 200: RecipientList },
      },
    },
    async (req) => ({
      email_enabled: emailEnabled,
      data: (await recipients.list(tenantOf(req.principal))).map(view),
    }),
  );

  app.put(
    '/v1/notification-recipients/:group',
    {
      schema: {
        operationId: 'setNotificationRecipients',
        tags: ['events'],
        summary: "Replace one group's e-mail recipients",
        description:
          'Each event of a type in the group is sent as a plain-text e-mail to each recipient, one e-mail per recipient. `user_ids` must be active users of your account (422 recipient_not_a_user); their address is read when the e-mail is sent, and a user disabled later gets none. Empty lists: nobody. Duplicates are dropped (addresses compared case-insensitively).',
        params: GroupParams,
        body: RecipientsBody,
        errors: [NotFound, RecipientNotAUser],
        response: { 200: RecipientGroup },
      },
    },
    async (req) => {
      const accountId = tenantOf(req.principal);
      const row = await recipients.set(accountId, req.params.group, {
        userIds: req.body.user_ids,
        addresses: req.body.addresses,
      });
      req.audit = { targetType: 'notification_recipients', targetId: req.params.group };
      return view(row);
    },
  );
};
