// The domain transfer as the API shows it (R-DOM-3).
import { Type } from 'typebox';
import { DateTime, Money, named, Page } from '../../schemas.js';
import { strict } from './domain-schemas.js';
import type { TransferRow } from './transfer-service.js';
import { maskAddress } from './transfer-approval-mail.js';

export const TransferStatus = Type.Enum([
  'pending_approval',
  'approved',
  'completed',
  'rejected',
  'cancelled',
  'expired',
]);
const NullableDateTime = Type.Union([DateTime, Type.Null()]);
export const Transfer = named(
  'Transfer',
  Type.Object(
    {
      id: Type.String({ format: 'uuid' }),
      name: Type.String(),
      unicode_name: Type.String(),
      status: TransferStatus,
      direction: Type.Enum(['in', 'out'], { description: 'in: you are gaining the domain; out: you are losing it' }),
      price: Type.Union([Money, Type.Null()], {
        description:
          "One year, at the price when requested; charged on completion at the price then. Null to anyone but the gaining reseller (R-SEC-6: the losing side and the domain's owner never see what another account pays)",
      }),
      charged: Type.Union([Money, Type.Null()], {
        description: 'What the gaining reseller was charged; null to anyone else',
      }),
      note: Type.Union([Type.String(), Type.Null()], {
        description:
          "Why an approved transfer has not completed yet, or why it ended. To anyone but the gaining reseller, an approved transfer's reason (such as its funds) is not shown, only that it waits on the gaining side",
      }),
      approval_sent_to: Type.Union([Type.String(), Type.Null()], {
        description:
          "Where the approval request was e-mailed: the domain's owner of record, masked (j***@example.com). R-DOM-3: the token goes only to the owner",
      }),
      approval_mailed_at: Type.Union([DateTime, Type.Null()], {
        description: 'When the mail relay took the latest approval e-mail; null while it is queued',
      }),
      requested_at: DateTime,
      expires_at: Type.String({ format: 'date-time', description: 'Without approval by then, the transfer expires' }),
      decided_at: NullableDateTime,
      completed_at: NullableDateTime,
      domain_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    },
    {
      ...strict,
      description: 'A transfer of a domain to you (in) or away from you (out)',
      examples: [
        {
          id: '4c3b2a1f-0e9d-4c8b-a7f6-e5d4c3b2a1f0',
          name: 'example.org',
          unicode_name: 'example.org',
          status: 'pending_approval',
          direction: 'in',
          price: { amount: 1099, currency: 'EUR' },
          charged: null,
          note: null,
          approval_sent_to: 'j***@example.org',
          approval_mailed_at: '2026-03-01T08:05:02.000Z',
          requested_at: '2026-03-01T08:05:00.000Z',
          expires_at: '2026-03-06T08:05:00.000Z',
          decided_at: null,
          completed_at: null,
          domain_id: null,
        },
      ],
    },
  ),
);
export const TransferList = Page(Transfer);

/**
 * The transfer as `accountId` sees it: direction out for the losing account, in for the gaining one
 * (and for the owner's approval answers, accountId null). GET /v1/domain-transfers/{id}, and the
 * transfer.* events' data.
 */
export const transferView = (accountId: string | null) => (t: TransferRow) => {
  const gaining = accountId !== null && t.accountId === accountId;
  return {
    id: t.id,
    name: t.name,
    unicode_name: t.unicodeName,
    status: t.status as 'pending_approval',
    direction: accountId !== null && t.losingAccountId === accountId && !gaining ? ('out' as const) : ('in' as const),
    price: gaining ? { amount: t.quotedAmount, currency: t.currency } : null,
    charged: gaining && t.chargedAmount !== null ? { amount: t.chargedAmount, currency: t.currency } : null,
    note: gaining ? t.note : sharedNote(t),
    approval_sent_to: t.approvalSentTo === null ? null : maskAddress(t.approvalSentTo),
    approval_mailed_at: t.approvalMailedAt ? t.approvalMailedAt.toISOString() : null,
    requested_at: t.requestedAt.toISOString(),
    expires_at: t.expiresAt.toISOString(),
    decided_at: t.decidedAt ? t.decidedAt.toISOString() : null,
    completed_at: t.completedAt ? t.completedAt.toISOString() : null,
    domain_id: t.domainId,
  };
};

/**
 * The note as the losing reseller and the domain's owner see it (R-SEC-6): why the owner or the
 * gaining side ended it, but never why the gaining side has not completed it (its funds, its
 * limits): only that it waits there.
 */
function sharedNote(t: TransferRow): string | null {
  if (t.status === 'rejected' || t.status === 'cancelled') return t.note;
  // The domain's own state (locked again by the losing side: TransferProhibited) is everyone's to know.
  if (t.note?.startsWith('transfer_prohibited:')) return t.note;
  if (t.status === 'approved')
    return t.note === null ? null : 'Approved; waiting for the gaining reseller to complete it';
  if (t.status === 'expired')
    return t.decidedAt === null ? t.note : 'Approved, but the gaining reseller did not complete it in time';
  return null;
}
