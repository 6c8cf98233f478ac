// E-mail notifications from the outbox (issue 13 item 7), on when SMTP_URL is set.
//
// The fan-out sink runs in the fan-out's transaction: for each event whose account has recipients
// for the event type's group, it queues one `notifications.email` job per recipient (a user or an
// address), in that transaction, so an event's e-mails are queued exactly once. One e-mail per
// recipient: nobody sees the other recipients' addresses, a recipient whose server refuses the mail
// is retried (and dead-lettered) alone, and a retry never mails the others twice. Every copy of one
// event has the same Message-ID, so a copy sent again after a partial failure (or a user who is also
// listed by address) is recognisably the same message.
//
// The job reads the event and, for a user, the user's e-mail now (a user disabled or gone since is
// skipped), renders the mail (email-render.ts) and hands it to the SMTP relay; a refusal or a
// connection failure throws, and the job queue retries with backoff, then dead-letters.
import type { Db, Tx } from '../../db/client.js';
import { activeUsersOf, type AccountReader } from '../accounts/api.js';
import { eventType, findEvent } from '../events/api.js';
import type { FanoutEvent, EventSink } from '../../plugins/event-fanout.js';
import { senderDomain, type MailTransport, type OutgoingMail } from '../../plugins/mailer.js';
import { renderEventMail } from './email-render.js';
import { recipientsOf, uniqueAddresses } from './recipient-service.js';

export const EMAIL_JOB = 'notifications.email';

/** What one queued e-mail carries: the event and one recipient (a user id, or an address). */
export type EmailJobPayload = { eventId: string; userId: string } | { eventId: string; address: string };

export interface EmailServiceDeps {
  db: Db;
  accounts: AccountReader;
  transport: MailTransport;
  from: string;
  publicUrl: string | undefined;
  /** Queues the jobs in the fan-out's transaction. */
  enqueue: (payloads: EmailJobPayload[], tx: Tx) => Promise<unknown>;
}

function parsePayload(p: unknown): EmailJobPayload {
  if (typeof p === 'object' && p !== null) {
    const r = p as Record<string, unknown>;
    if (typeof r.eventId === 'string') {
      if (typeof r.userId === 'string') return { eventId: r.eventId, userId: r.userId };
      if (typeof r.address === 'string') return { eventId: r.eventId, address: r.address };
    }
  }
  throw new Error(`${EMAIL_JOB}: payload has no eventId and recipient`);
}

export function createEmailService(deps: EmailServiceDeps) {
  const domain = senderDomain(deps.from);

  /** The sink: queues each event's e-mails in the fan-out's transaction. */
  const sink: EventSink = {
    async fanOut(tx: Tx, events: FanoutEvent[]): Promise<void> {
      const accountIds = [...new Set(events.map((e) => e.account_id))];
      const rows = await recipientsOf(tx, accountIds);
      const byKey = new Map(rows.map((r) => [`${r.accountId}/${r.group}`, r]));
      // Users' current addresses, read once per account and group in the batch: only to leave out
      // an inactive user, or one whose address is listed already (the job reads it again).
      const resolved = new Map<string, { userIds: string[]; addresses: string[] }>();
      const queued: EmailJobPayload[] = [];
      for (const e of events) {
        const group = eventType(e.type)?.group;
        if (!group) continue;
        const key = `${e.account_id}/${group}`;
        const row = byKey.get(key);
        if (!row || (row.userIds.length === 0 && row.addresses.length === 0)) continue;
        let to = resolved.get(key);
        if (!to) {
          const addresses = uniqueAddresses(row.addresses);
          const seen = new Set(addresses.map((a) => a.toLowerCase()));
          const users = await activeUsersOf(tx, e.account_id, row.userIds);
          const userIds: string[] = [];
          for (const u of users) {
            const address = u.email.trim().toLowerCase();
            if (seen.has(address)) continue;
            seen.add(address);
            userIds.push(u.id);
          }
          to = { userIds, addresses };
          resolved.set(key, to);
        }
        for (const userId of to.userIds) queued.push({ eventId: e.id, userId });
        for (const address of to.addresses) queued.push({ eventId: e.id, address });
      }
      if (queued.length > 0) await deps.enqueue(queued, tx);
    },
  };

  /** The e-mail of one queued job, or null when there is nothing to send (event purged, user gone). */
  async function compose(payload: unknown): Promise<OutgoingMail | null> {
    const p = parsePayload(payload);
    const event = await findEvent(deps.db, null, p.eventId);
    if (!event) return null;
    let to: string;
    if ('userId' in p) {
      const [user] = await activeUsersOf(deps.db, event.account_id, [p.userId]);
      if (!user) return null;
      to = user.email;
    } else {
      to = p.address;
    }
    const type = eventType(event.type);
    const accountName = await deps.accounts.getAccount(event.account_id).then(
      (a) => a.name,
      () => undefined,
    );
    const mail = renderEventMail(
      {
        id: event.id,
        type: event.type,
        summary: type?.summary,
        group: type?.group,
        objectType: event.object_type,
        objectId: event.object_id,
        objectSequence: event.object_sequence,
        createdAt: event.created_at,
        data: event.data,
        dataSchema: type?.data,
        accountName,
      },
      { publicUrl: deps.publicUrl },
    );
    return {
      ...mail,
      from: deps.from,
      to,
      messageId: `<${event.id}@${domain}>`,
      headers: {
        'Auto-Submitted': 'auto-generated',
        'X-Auto-Response-Suppress': 'All',
        'X-Reseller-Event-Id': event.id,
        'X-Reseller-Event-Type': event.type,
      },
    };
  }

  return {
    sink,
    compose,
    /** The job: sends one queued e-mail; returns 1 when sent, 0 when there was nothing to send. Throws when the relay fails. */
    async send(payload: unknown): Promise<number> {
      const mail = await compose(payload);
      if (!mail) return 0;
      await deps.transport.send(mail);
      return 1;
    },
  };
}

export type EmailService = ReturnType<typeof createEmailService>;
