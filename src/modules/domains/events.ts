// The domains area's event types (issue 13, R-NTF-1): domains, transfers and abuse complaints. Each
// is written in the transaction of the change it reports (emitEvent, or eventCtes in the
// registration's single statement), and its data is the object as the API shows it right after the
// change: domainView, transferView(account), complaintView.
//
// Accounts. A domain event goes to the account holding the domain (for a transfer: the losing
// account gets domain.transferred_out on its old record, the gaining one domain.transferred_in on the
// new one). A transfer event goes to the gaining account, and also to the losing account when the
// name is held by another account here (each sees the transfer as GET shows it to them: direction
// `in` or `out`). Both copies count in the transfer's one sequence, so each account sees it rise
// with gaps. An abuse event goes to the account holding the domain complained about.
import { Type } from 'typebox';
import { defineEventType } from '../events/api.js';
import { Complaint } from './abuse-schemas.js';
import { Domain } from './domain-schemas.js';
import { Transfer } from './transfer-schemas.js';

/** Days before expiry at which domain.expiring is sent, largest first. */
export const EXPIRY_NOTICE_DAYS = [30, 7] as const;
export type ExpiryNoticeDays = (typeof EXPIRY_NOTICE_DAYS)[number];

const domainEvent = (type: string, summary: string) =>
  defineEventType({ type, group: 'domains', objectType: 'domain', summary, data: Domain });

export const DomainRegistered = domainEvent('domain.registered', 'A domain was registered (POST /v1/domains)');
export const DomainRenewed = domainEvent(
  'domain.renewed',
  'A domain was renewed: by POST /v1/domains/{name}/renew, or by its autorenewal at expiry or during grace',
);
export const DomainTransferredIn = domainEvent(
  'domain.transferred_in',
  'A transfer completed and the domain is now in this account (to the gaining account)',
);
export const DomainTransferredOut = domainEvent(
  'domain.transferred_out',
  'A transfer completed and the domain left this account (to the losing account; status transferred_out)',
);
export const DomainExpiring = defineEventType({
  type: 'domain.expiring',
  group: 'domains',
  objectType: 'domain',
  summary:
    'A domain expires in 30 days, and again in 7 days (once per notice and expiry date; sent while it is active, with or without autorenew)',
  data: Type.Object(
    {
      domain: Domain,
      days_left: Type.Integer({ minimum: 0, maximum: 30, description: 'Whole days until expires_at, rounded up' }),
      notice_days: Type.Integer({
        enum: [30, 7],
        minimum: 7,
        maximum: 30,
        description: 'Which notice this is: 30 or 7 days before expiry',
      }),
    },
    { additionalProperties: false },
  ),
});
export const DomainExpired = domainEvent(
  'domain.expired',
  'A domain reached its expiry without a renewal and entered the auto-renew grace period (status grace; autorenew_failed_at is set when its autorenewal was refused)',
);
export const DomainRedemptionStarted = domainEvent(
  'domain.redemption_started',
  'The grace period of an expired domain ended: it is in redemption, restorable for the restore fee until redemption_ends_at',
);
export const DomainPendingDelete = domainEvent(
  'domain.pending_delete',
  'Redemption ended without a restore: the domain is pending delete and is released at pending_delete_ends_at',
);
export const DomainReleased = domainEvent(
  'domain.released',
  'Pending delete ended: the name was released and can be registered by anyone',
);
export const DomainDeleted = domainEvent(
  'domain.deleted',
  'A domain was deleted (DELETE /v1/domains/{name}): released at once within the add grace period, else in redemption',
);
export const DomainRestored = domainEvent(
  'domain.restored',
  'A domain was restored from redemption (POST /v1/domains/{name}/restore)',
);

const transferEvent = (type: string, summary: string) =>
  defineEventType({ type, group: 'transfers', objectType: 'transfer', summary, data: Transfer });

export const TransferRequested = transferEvent(
  'transfer.requested',
  'A transfer in was requested (POST /v1/domain-transfers); to the gaining account and to the losing account if the name is held here',
);
export const TransferApproved = transferEvent(
  'transfer.approved',
  "The domain's owner approved the transfer; transfer.completed follows once the gaining account can pay",
);
export const TransferRejected = transferEvent('transfer.rejected', "The domain's owner rejected the transfer");
export const TransferCancelled = transferEvent('transfer.cancelled', 'The gaining reseller cancelled the transfer');
export const TransferExpired = transferEvent(
  'transfer.expired',
  'The transfer was not approved, or could not complete, before its expires_at',
);
export const TransferCompleted = transferEvent(
  'transfer.completed',
  'The transfer completed: the name moved, the gaining account was charged (with domain.transferred_in and domain.transferred_out)',
);

const abuseEvent = (type: string, summary: string) =>
  defineEventType({ type, group: 'abuse', objectType: 'abuse_complaint', summary, data: Complaint });

export const ComplaintFiled = abuseEvent(
  'abuse.complaint_filed',
  'An abuse complaint was filed about one of your domains (R-DOM-6): respond by respond_by',
);
export const ComplaintResponded = abuseEvent(
  'abuse.complaint_responded',
  'A response to an abuse complaint was recorded (POST /v1/abuse-complaints/{id}/responses), on time or late',
);
export const ComplaintEscalated = abuseEvent(
  'abuse.complaint_escalated',
  'respond_by passed without a response: the complaint escalated and a fair-use incident is filed (incident_id is null in this event; GET shows it)',
);
export const ComplaintClosed = abuseEvent('abuse.complaint_closed', 'An operator closed the abuse complaint');
