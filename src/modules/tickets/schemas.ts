// Tickets, their messages, response periods, calendars and priority criteria as the API shows them.
import { Type } from 'typebox';
import { DateTime, Int32, named, Page, Uuid } from '../../schemas.js';

export const strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Seconds = (description: string) => Type.Integer({ minimum: 0, maximum: 4_000_000_000, description });

export const PriorityName = Type.Enum(['low', 'medium', 'high', 'emergency'], {
  description:
    'R-TKT-3: emergency 8 calendar hours, high 16, medium 24, low 32 business hours (business hours for every priority once the product team is involved, R-TKT-9)',
});
export const TicketState = Type.Enum(
  ['open', 'answered', 'awaiting_user', 'suspended', 'revoked', 'closed', 'closed_without_comments', 'merged'],
  {
    description:
      "open: on the provider's side, the clock runs; answered: replied, the user's turn; awaiting_user: information requested (72 hours to provide it, R-TKT-6); suspended by the user (R-TKT-5); revoked by the user (final); closed: with a reason, 5 days to object (R-TKT-7); closed_without_comments: final; merged into another ticket (final)",
  },
);
export const Channel = Type.Enum(['api', 'phone', 'chat', 'email'], { description: 'R-TKT-10: how it arrived' });
export const ConcernsType = Type.Enum(
  ['product', 'domain', 'plesk_license', 'spam_filter_domain', 'hosting_subscription'],
  { description: 'A product in general, or one of your services' },
);
export const PRODUCTS = [
  'domains',
  'licenses',
  'spam_filter',
  'hosting',
  'billing',
  'account',
  'api',
  'other',
] as const;
export const Product = Type.Enum([...PRODUCTS], { description: 'The product a ticket or a criterion is about' });
export const CLOSE_REASONS = [
  'resolved',
  'information_not_provided',
  'cannot_reproduce',
  'out_of_scope',
  'changed_by_user',
  'answered_earlier',
  'unsupported_use',
  'misconduct',
  'priority_manipulation',
] as const;
export const CloseReason = Type.Enum([...CLOSE_REASONS], {
  description:
    'resolved, or closed without resolution for a reason of R-TKT-6: information_not_provided (72 hours, set by the timer), cannot_reproduce, out_of_scope, changed_by_user, answered_earlier, unsupported_use, misconduct, priority_manipulation',
});
/** The reasons an operator closes with: information_not_provided is the 72-hour timer's alone (R-TKT-6). */
export const OperatorCloseReason = Type.Enum(
  CLOSE_REASONS.filter((r) => r !== 'information_not_provided'),
  {
    description:
      'resolved, or closed without resolution for a reason of R-TKT-6: cannot_reproduce, out_of_scope, changed_by_user, answered_earlier, unsupported_use, misconduct, priority_manipulation (information_not_provided is set by the 72-hour timer only)',
  },
);
export const PauseReason = Type.Enum(['vendor_response', 'agreed_time'], {
  description:
    "The regulations' 6.8: waiting for a third-party vendor's answer (until an operator records it), or until a time agreed with the user for an operation",
});

export const Concerns = Type.Object(
  {
    type: ConcernsType,
    ref: Type.String({
      minLength: 1,
      maxLength: 253,
      description:
        "product: one of domains, licenses, spam_filter, hosting, billing, account, api, other (e-mailed tickets start as other); domain and spam_filter_domain: the name; plesk_license and hosting_subscription: the id. A service must be your account's.",
    }),
  },
  { ...strict, examples: [{ type: 'product', ref: 'domains' }] },
);

export const Pause = Type.Object(
  {
    reason: PauseReason,
    note: Nullable(Type.String()),
    started_at: DateTime,
    until: Nullable(DateTime),
    ended_at: Nullable(DateTime),
    duration_seconds: Nullable(Seconds('Wall-clock length of the pause, once ended')),
  },
  strict,
);

export const Period = named(
  'TicketPeriod',
  Type.Object(
    {
      id: Uuid,
      cause: Type.Enum(
        ['registered', 'information_provided', 'user_message', 'resumed', 'reopened', 'split', 'merged'],
        { description: "What brought the ticket to the provider's side with what it needs (R-TKT-3/4)" },
      ),
      started_at: DateTime,
      priority: PriorityName,
      goal_seconds: Seconds('The response time'),
      business_hours: Type.Boolean({ description: 'Counted in business hours (else calendar hours)' }),
      calendar_id: Nullable(Type.String()),
      deadline_at: Nullable(DateTime),
      elapsed_seconds: Seconds('Response time used (business or calendar), pauses left out; at its end once ended'),
      time_left_seconds: Nullable(
        Type.Integer({ minimum: -4_000_000_000, maximum: 4_000_000_000, description: 'Negative once breached' }),
      ),
      paused: Type.Boolean(),
      pauses: Type.Array(Pause),
      ended_at: Nullable(DateTime),
      ended_by: Nullable(
        Type.Enum(['reply', 'information_request', 'closed', 'suspended', 'revoked', 'split', 'merged'], {
          description: 'A reply, an information request or a close is a response; the others stop the clock',
        }),
      ),
      outcome: Type.Enum(['running', 'met', 'breached', 'stopped', 'not_applicable'], {
        description:
          'met: responded in time; breached: the deadline passed first (also when the period then ended without a response: suspended, revoked, split or merged after its deadline); stopped: ended by the user (suspended, revoked) or by a split or merge before the deadline; not_applicable: the deadline was waived',
      }),
      warned_at: Nullable(DateTime),
      breached_at: Nullable(DateTime),
    },
    strict,
  ),
);

export const Attachment = Type.Object(
  {
    id: Uuid,
    filename: Type.String(),
    content_type: Type.String({ description: 'Sniffed from the content' }),
    size: Int32({ minimum: 0 }),
    sha256: Type.String(),
  },
  strict,
);

export const Message = named(
  'TicketMessage',
  Type.Object(
    {
      id: Uuid,
      author: Type.Enum(['user', 'operator', 'system']),
      kind: Type.Enum([
        'description',
        'message',
        'information',
        'reply',
        'information_request',
        'note',
        'objection',
        'closing',
        'priority_request',
      ]),
      body: Type.String(),
      internal: Type.Boolean({ description: 'An operators’ note (never shown to the reseller)' }),
      channel: Channel,
      attachments: Type.Array(Attachment),
      created_at: DateTime,
    },
    strict,
  ),
);

export const PriorityChange = Type.Object(
  {
    kind: Type.Enum(['requested', 'assigned']),
    priority: PriorityName,
    justification: Nullable(Type.String()),
    at: DateTime,
  },
  strict,
);

export const Link = Type.Object(
  {
    ticket_id: Uuid,
    reference: Type.String(),
    kind: Type.Enum(['split_from', 'split_into', 'merged_from', 'merged_into']),
    at: DateTime,
  },
  strict,
);

export const Ticket = named(
  'Ticket',
  Type.Object(
    {
      id: Uuid,
      reference: Type.String({ description: 'T-<number>: quote it in an e-mail subject to add to this ticket' }),
      account_id: Uuid,
      subject: Type.String(),
      channel: Channel,
      concerns: Concerns,
      state: TicketState,
      priority: PriorityName,
      requested_priority: Nullable(PriorityName),
      product_team: Type.Boolean({ description: 'R-TKT-9: involved, so periods count business hours' }),
      assignee_id: Nullable(Uuid),
      close_reason: Nullable(CloseReason),
      closed_at: Nullable(DateTime),
      objection_until: Nullable(DateTime),
      information_requested_at: Nullable(DateTime),
      information_due_at: Nullable(DateTime),
      sla: Type.Object(
        {
          applies: Type.Boolean(),
          waived_reason: Nullable(Type.String({ description: 'Why the deadline does not apply (6.6)' })),
          deadline_at: Nullable(DateTime),
          time_left_seconds: Nullable(Type.Integer({ minimum: -4_000_000_000, maximum: 4_000_000_000 })),
          breached: Type.Boolean({ description: 'The running period is past its deadline' }),
          current: Nullable(Period),
          periods: Type.Array(Period, { description: 'Every period, oldest first' }),
        },
        strict,
      ),
      priorities: Type.Array(PriorityChange),
      links: Type.Array(Link),
      merged_into: Nullable(Uuid),
      created_at: DateTime,
      updated_at: DateTime,
    },
    strict,
  ),
);
export const TicketList = Page(Ticket);

/** One message the e-mail intake took (R-TKT-10): what it became, or why it was refused. */
export const TicketInboundEmail = named(
  'TicketInboundEmail',
  Type.Object(
    {
      id: Uuid,
      received_at: DateTime,
      from_address: Type.Union([Type.String(), Type.Null()]),
      subject: Type.Union([Type.String(), Type.Null()]),
      message_id: Type.Union([Type.String(), Type.Null()]),
      size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
      outcome: Type.Enum(['opened', 'added', 'refused']),
      refusal: Type.Union([Type.String(), Type.Null()], {
        description:
          'unknown_sender, ambiguous_sender, unparseable, duplicate (a Message-ID already taken), or the ticket service’s refusal such as ticket_state_conflict',
      }),
      account_id: Type.Union([Uuid, Type.Null()]),
      ticket_id: Type.Union([Uuid, Type.Null()]),
    },
    strict,
  ),
);
export const TicketInboundEmailList = Page(TicketInboundEmail);

export const TicketDetail = named(
  'TicketDetail',
  Type.Object({ ticket: Ticket, messages: Type.Array(Message) }, strict),
);

const Hhmm = Type.String({
  pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$',
  description: 'HH:MM local time',
  examples: ['09:00'],
});
const Interval = Type.Object({ start: Hhmm, end: Hhmm }, strict);
const DayHours = Type.Array(Interval, { maxItems: 24 });
export const CalendarBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    time_zone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone', examples: ['Europe/Berlin'] }),
    week: Type.Object(
      {
        '1': Type.Optional(DayHours),
        '2': Type.Optional(DayHours),
        '3': Type.Optional(DayHours),
        '4': Type.Optional(DayHours),
        '5': Type.Optional(DayHours),
        '6': Type.Optional(DayHours),
        '7': Type.Optional(DayHours),
      },
      { ...strict, description: 'Business hours per ISO weekday, 1 Monday to 7 Sunday, in local time' },
    ),
    holidays: Type.Array(
      Type.Object(
        {
          date: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', examples: ['2027-12-31'] }),
          start: Type.Optional(Hhmm),
          end: Type.Optional(Hhmm),
          name: Type.Optional(Type.String({ maxLength: 200 })),
        },
        strict,
      ),
      { maxItems: 1000, description: 'Whole days, or [start, end) of a day when both are given' },
    ),
    default: Type.Optional(Type.Boolean({ description: 'The calendar business-hour periods run on (one at a time)' })),
  },
  strict,
);

export const Calendar = named(
  'SupportCalendar',
  Type.Object(
    {
      id: Type.String(),
      name: Type.String(),
      time_zone: Type.String(),
      week: CalendarBody.properties.week,
      holidays: CalendarBody.properties.holidays,
      default: Type.Boolean(),
      version: Int32({ minimum: 1 }),
      updated_at: DateTime,
    },
    strict,
  ),
);

export const PriorityInfo = named(
  'TicketPriority',
  Type.Object(
    {
      priority: PriorityName,
      response_hours: Int32({ minimum: 1 }),
      business_hours: Type.Boolean({ description: 'false: calendar hours (unless the product team is involved)' }),
      criteria: Type.Array(Type.Object({ product: Type.String(), criteria: Type.Array(Type.String()) }, strict)),
    },
    strict,
  ),
);
