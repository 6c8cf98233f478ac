// The abuse complaint as the API shows it (R-DOM-6): to the domain's reseller and to operators.
import { Type, type Static } from 'typebox';
import { BigIntId, DateTime, iso, named, Page, Uuid } from '../../schemas.js';
import { Email } from '../accounts/api.js';
import type { ComplaintWithIncident } from './abuse-service.js';
import { strict } from './domain-schemas.js';

export const ABUSE_CATEGORIES = ['spam', 'phishing', 'malware', 'botnet', 'fraud', 'copyright', 'other'] as const;
export const RESPONSE_ACTIONS = ['investigating', 'suspended', 'removed', 'no_violation', 'other'] as const;
export const COMPLAINT_STATUSES = ['open', 'responded', 'escalated', 'closed'] as const;
export type ComplaintStatus = (typeof COMPLAINT_STATUSES)[number];

export const Category = Type.Enum([...ABUSE_CATEGORIES]);
export const Status = Type.Enum([...COMPLAINT_STATUSES], {
  description:
    'open: waiting for the reseller; responded: answered by respond_by; escalated: respond_by passed unanswered (a fair-use incident was filed; a later response is still recorded); closed: settled by an operator',
});
export const Action = Type.Enum([...RESPONSE_ACTIONS]);
const NullableDateTime = Type.Union([DateTime, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

const complaintFields = {
  domain: Type.String({ minLength: 1, maxLength: 253, description: 'The domain complained about, A-label or Unicode' }),
  category: Category,
  description: Type.String({ minLength: 1, maxLength: 10_000 }),
  evidence_urls: Type.Optional(
    Type.Array(
      Type.String({
        format: 'uri',
        pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
        maxLength: 2048,
        examples: ['https://example.com/login'],
      }),
      {
        maxItems: 20,
        uniqueItems: true,
        description: 'http(s) links to the evidence',
      },
    ),
  ),
  reporter_name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
};
export const PublicReportBody = Type.Object(
  { ...complaintFields, reporter_email: Email },
  {
    ...strict,
    examples: [
      {
        domain: 'example.com',
        category: 'phishing',
        description: 'The site imitates a bank login page.',
        evidence_urls: ['https://example.com/login'],
        reporter_name: 'Mallory Watch',
        reporter_email: 'reports@watch.test',
      },
    ],
  },
);
export const AdminComplaintBody = Type.Object(
  { ...complaintFields, reporter_email: Type.Optional(Email) },
  {
    ...strict,
    examples: [
      {
        domain: 'example.com',
        category: 'malware',
        description: 'Serves a trojan from /download.exe (found by our scanner).',
      },
    ],
  },
);

export const PublicReceipt = Type.Object(
  { id: Uuid, status: Type.Literal('open'), domain: Type.String(), respond_by: DateTime },
  { ...strict, description: 'The complaint was received and passed to the responsible reseller' },
);

const Response = Type.Union([
  Type.Object(
    {
      action: Action,
      message: Type.String(),
      responded_at: DateTime,
      responded_by_user_id: Type.Union([Uuid, Type.Null()]),
    },
    strict,
  ),
  Type.Null(),
]);
const resellerFields = {
  id: Uuid,
  domain: Type.String({ description: 'A-label form' }),
  category: Category,
  description: Type.String(),
  evidence_urls: Type.Array(Type.String()),
  source: Type.Enum(['operator', 'public']),
  status: Status,
  created_at: DateTime,
  respond_by: DateTime,
  response: Response,
  escalated_at: NullableDateTime,
  incident_id: Type.Union([BigIntId(), Type.Null()], {
    description: 'The fair-use incident filed when the complaint escalated',
  }),
  closed_at: NullableDateTime,
  close_note: NullableString,
};
const complaintExample = {
  id: '0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a',
  domain: 'example.com',
  category: 'phishing',
  description: 'The site imitates a bank login page.',
  evidence_urls: ['https://example.com/login'],
  source: 'public',
  status: 'open',
  created_at: '2026-03-01T08:05:00.000Z',
  respond_by: '2026-03-03T08:05:00.000Z',
  response: null,
  escalated_at: null,
  incident_id: null,
  closed_at: null,
  close_note: null,
};

export const Complaint = named(
  'AbuseComplaint',
  Type.Object(resellerFields, {
    ...strict,
    description: "An abuse complaint about one of your domains; the reporter's identity is kept from the reseller",
    examples: [complaintExample],
  }),
);
export const ComplaintList = Page(Complaint);
export const AdminComplaint = named(
  'AdminAbuseComplaint',
  Type.Object(
    {
      ...resellerFields,
      account_id: Uuid,
      domain_id: Uuid,
      reporter_name: NullableString,
      reporter_email: NullableString,
      filed_by_user_id: Type.Union([Uuid, Type.Null()]),
      filed_from_ip: NullableString,
    },
    {
      ...strict,
      description: 'An abuse complaint as operators see it: with the reporter and the account',
      examples: [
        {
          ...complaintExample,
          account_id: '8a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          domain_id: '7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c3b',
          reporter_name: 'Mallory Watch',
          reporter_email: 'reports@watch.test',
          filed_by_user_id: null,
          filed_from_ip: '198.51.100.23',
        },
      ],
    },
  ),
);
export const AdminComplaintList = Page(AdminComplaint);

/** The complaint as its reseller sees it (GET /v1/abuse-complaints/{id}, and the abuse.* events' data). */
export const complaintView = (c: ComplaintWithIncident): Static<typeof Complaint> => ({
  id: c.id,
  domain: c.domainName,
  category: c.category as Static<typeof Category>,
  description: c.description,
  evidence_urls: c.evidenceUrls,
  source: c.source as 'operator' | 'public',
  status: c.status as Static<typeof Status>,
  created_at: c.createdAt.toISOString(),
  respond_by: c.respondBy.toISOString(),
  response:
    c.responseAction && c.respondedAt
      ? {
          action: c.responseAction as Static<typeof Action>,
          message: c.responseMessage ?? '',
          responded_at: c.respondedAt.toISOString(),
          responded_by_user_id: c.respondedByUserId,
        }
      : null,
  escalated_at: iso(c.escalatedAt),
  incident_id: c.incidentNumber,
  closed_at: iso(c.closedAt),
  close_note: c.closeNote,
});

/** The complaint as operators see it, with its reporter. */
export const adminComplaintView = (c: ComplaintWithIncident): Static<typeof AdminComplaint> => ({
  ...complaintView(c),
  account_id: c.accountId,
  domain_id: c.domainId,
  reporter_name: c.reporterName,
  reporter_email: c.reporterEmail,
  filed_by_user_id: c.filedByUserId,
  filed_from_ip: c.filedFromIp,
});
