// The hosting area's event types, each written in the transaction of the change it reports.
import { Type } from 'typebox';
import { DateTime, Money } from '../../schemas.js';
import { defineEventType } from '../events/api.js';
import { Addon, Customer, Subscription, UsedBytes } from './schemas.js';

const subscriptionEvent = (type: string, summary: string) =>
  defineEventType({ type, group: 'hosting', objectType: 'hosting_subscription', summary, data: Subscription });

export const SubscriptionPurchased = subscriptionEvent(
  'hosting.subscription.purchased',
  'A reseller subscription was bought and charged',
);
export const SubscriptionRenewed = subscriptionEvent(
  'hosting.subscription.renewed',
  'A subscription was renewed with its add-ons, at the prices in force (R-ADD-5)',
);
export const SubscriptionRenewalFailed = defineEventType({
  type: 'hosting.subscription.renewal_failed',
  group: 'hosting',
  objectType: 'hosting_subscription',
  summary: 'Autorenewal could not charge the renewal (insufficient funds); it is tried again until the term ends',
  data: Type.Object(
    { subscription: Subscription, required: Money, reason: Type.String() },
    { additionalProperties: false },
  ),
});
export const SubscriptionExpired = subscriptionEvent(
  'hosting.subscription.expired',
  'A subscription reached its term end without renewal: it and its customers are suspended',
);
export const SubscriptionSuspended = subscriptionEvent(
  'hosting.subscription.suspended',
  'A subscription was suspended (R-PLAN-2 overuse, or by the provider); its customers with it',
);
export const SubscriptionResumed = subscriptionEvent(
  'hosting.subscription.resumed',
  'A suspension was lifted (usage under the limit, an upgrade, or the provider)',
);
export const SubscriptionPlanChanged = subscriptionEvent(
  'hosting.subscription.plan_changed',
  'A subscription moved to another plan (an upgrade at once, a downgrade at the renewal), or a downgrade was scheduled',
);
export const ThresholdCrossed = defineEventType({
  type: 'hosting.usage.threshold_crossed',
  group: 'hosting',
  objectType: 'hosting_subscription',
  summary: 'R-PLAN-3: disk or traffic usage reached a notify level (once per crossing)',
  data: Type.Object(
    {
      subscription_id: Type.String({ format: 'uuid' }),
      resource: Type.Enum(['disk', 'traffic']),
      threshold: Type.String({ description: 'The level as configured: 80% or an absolute number of bytes' }),
      level_bytes: UsedBytes('The level in bytes'),
      used_bytes: UsedBytes('Usage when it was reached'),
      limit_bytes: Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER }),
      measured_at: DateTime,
    },
    { additionalProperties: false },
  ),
});

const customerEvent = (type: string, summary: string) =>
  defineEventType({ type, group: 'hosting', objectType: 'hosting_customer', summary, data: Customer });
export const CustomerSuspended = customerEvent(
  'hosting.customer.suspended',
  "A customer's subscription was suspended (with its reseller's, or by the reseller or the provider)",
);
export const CustomerResumed = customerEvent(
  'hosting.customer.resumed',
  "A customer's subscription was resumed (only those the lifted suspension had suspended)",
);

const addonEvent = (type: string, summary: string) =>
  defineEventType({ type, group: 'hosting', objectType: 'hosting_addon', summary, data: Addon });
export const AddonPurchased = addonEvent(
  'hosting.addon.purchased',
  'An add-on was bought on a subscription, charged pro rata for the rest of its term (R-ADD-2)',
);
export const AddonRemoved = addonEvent(
  'hosting.addon.removed',
  'An add-on was removed: at once and for good, its WHMCS license key revoked, no refund (R-ADD-4)',
);
