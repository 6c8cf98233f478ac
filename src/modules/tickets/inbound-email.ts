// R-TKT-10: tickets by e-mail. An MTA pipe or an inbound-mail service hands the raw RFC 5322 message
// to an operator-authenticated endpoint; mailparser reads it. A message is accepted only from the
// contact address of exactly one account: it adds to that account's ticket named by a reference in
// its subject (T-000123) or by In-Reply-To/References (a Message-ID already on the ticket), and
// otherwise opens a ticket (channel email, about "other" until an operator says more). A ticket
// merged into another stands for that one; a Message-ID the account's tickets already hold is a
// repeated delivery and changes nothing (a retry racing the first delivery's transaction is not
// caught: MTAs retry after minutes, not milliseconds). Every message
// is recorded with what it became or why it was refused; the endpoint answers the same either way,
// so a sender cannot learn through it whether an address is known.
import { randomUUID } from 'node:crypto';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { ParsedMail } from 'mailparser';
import type { Db } from '../../db/client.js';
import { accounts, ticketInboundEmails, ticketMessages, tickets } from '../../db/schema/index.js';
import { AppError } from '../../errors.js';
import { storableText } from '../../lib/unsafe-text.js';
import type { TicketService } from './service.js';

export type InboundEmail = ReturnType<typeof createInboundEmail>;

/** mailparser, loaded at the first message (0.2 s of every start, for a channel many never use). */
let parser: Promise<typeof import('mailparser')> | undefined;
const mailparser = () => (parser ??= import('mailparser'));

const REFERENCE = /\bT-(\d{1,12})\b/i;
/** More merges in a row than any ticket sees; a longer chain stops at its 20th ticket. */
const MAX_MERGE_HOPS = 20;

function textOf(mail: ParsedMail): string {
  const text = storableText(mail.text ?? '').trim();
  if (text) return text;
  const html = typeof mail.html === 'string' ? storableText(mail.html) : '';
  const stripped = html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return stripped || '(no text)';
}

export function createInboundEmail(db: Db, service: TicketService, now: () => Date) {
  async function record(row: Omit<typeof ticketInboundEmails.$inferInsert, 'id' | 'receivedAt'>): Promise<string> {
    const id = randomUUID();
    await db.insert(ticketInboundEmails).values({ id, receivedAt: now(), ...row });
    return id;
  }

  return {
    async receive(raw: Buffer): Promise<{ id: string }> {
      const { simpleParser } = await mailparser();
      let mail: ParsedMail;
      try {
        mail = await simpleParser(raw, { skipHtmlToText: false });
      } catch {
        return { id: await record({ size: raw.length, outcome: 'refused', refusal: 'unparseable' }) };
      }
      // A message is a foreign document: what PostgreSQL cannot store (NUL) becomes U+FFFD everywhere.
      const address = mail.from?.value[0]?.address?.trim().toLowerCase();
      const from = address ? storableText(address) : null;
      const subject =
        storableText(mail.subject ?? '')
          .trim()
          .slice(0, 300) || '(no subject)';
      const messageId = mail.messageId ? storableText(mail.messageId) : null;
      const base = { size: raw.length, fromAddress: from, subject, messageId };
      if (!from) return { id: await record({ ...base, outcome: 'refused', refusal: 'unparseable' }) };
      const owners = await db
        .select({ id: accounts.id })
        .from(accounts)
        .where(and(sql`lower(${accounts.contactEmail}) = ${from}`, eq(accounts.status, 'active')))
        .limit(2);
      if (owners.length !== 1)
        return {
          id: await record({
            ...base,
            outcome: 'refused',
            refusal: owners.length ? 'ambiguous_sender' : 'unknown_sender',
          }),
        };
      const accountId = owners[0]!.id;
      const attachments = mail.attachments
        .filter((a) => a.contentDisposition !== 'inline' || a.filename)
        .map((a, i) => ({
          filename: storableText(a.filename ?? `attachment-${i + 1}`).slice(0, 255),
          data: a.content,
        }));
      // An MTA that lost our answer delivers the same message again: it is taken once.
      const seen = messageId ? await ticketWithMessage(db, accountId, [messageId]) : null;
      if (seen)
        return { id: await record({ ...base, outcome: 'refused', refusal: 'duplicate', accountId, ticketId: seen }) };
      const body = textOf(mail);
      const caller = { accountId, userId: null };
      const ticketId = await ticketFor(db, accountId, subject, mail);
      try {
        if (ticketId) {
          await service.message(caller, ticketId, body, attachments, { channel: 'email', emailMessageId: messageId });
          return { id: await record({ ...base, outcome: 'added', accountId, ticketId }) };
        }
        const t = await service.open(
          {
            accountId,
            subject,
            description: body,
            concerns: { type: 'product', ref: 'other' },
            channel: 'email',
            attachments,
            emailMessageId: messageId,
          },
          null,
        );
        return { id: await record({ ...base, outcome: 'opened', accountId, ticketId: t.ticket.id }) };
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        return {
          id: await record({ ...base, outcome: 'refused', refusal: err.code, accountId, ticketId: ticketId ?? null }),
        };
      }
    },

    /** Newest first; `after` is the last row of the previous page. */
    async list(after: { receivedAt: Date; id: string } | undefined, limit: number) {
      const rows = await db
        .select()
        .from(ticketInboundEmails)
        .where(
          after
            ? sql`(${ticketInboundEmails.receivedAt}, ${ticketInboundEmails.id}) < (${after.receivedAt}, ${after.id}::uuid)`
            : undefined,
        )
        .orderBy(desc(ticketInboundEmails.receivedAt), desc(ticketInboundEmails.id))
        .limit(limit + 1);
      return rows.map((r) => ({
        id: r.id,
        received_at: r.receivedAt.toISOString(),
        from_address: r.fromAddress,
        subject: r.subject,
        message_id: r.messageId,
        size: r.size,
        outcome: r.outcome as 'opened' | 'added' | 'refused',
        refusal: r.refusal,
        account_id: r.accountId,
        ticket_id: r.ticketId,
      }));
    },
  };
}

/**
 * The account's ticket a message refers to: by T-number in the subject, else by the thread's
 * Message-IDs; a ticket merged into another stands for the one it was merged into (R-TKT-8).
 */
async function ticketFor(db: Db, accountId: string, subject: string, mail: ParsedMail): Promise<string | null> {
  const ref = REFERENCE.exec(subject);
  let id: string | null = null;
  if (ref) {
    const [t] = await db
      .select({ id: tickets.id })
      .from(tickets)
      .where(and(eq(tickets.number, Number(ref[1])), eq(tickets.accountId, accountId)));
    id = t?.id ?? null;
  }
  if (!id) {
    const refs = [mail.inReplyTo, ...(Array.isArray(mail.references) ? mail.references : [mail.references])]
      .filter((x): x is string => typeof x === 'string' && x.length > 0)
      .slice(0, 50);
    if (refs.length) id = await ticketWithMessage(db, accountId, refs);
  }
  // Merges form chains (a merged ticket's target may be merged later); each step is one row.
  for (let hop = 0; id && hop < MAX_MERGE_HOPS; hop++) {
    const [t] = await db.select({ mergedInto: tickets.mergedInto }).from(tickets).where(eq(tickets.id, id));
    if (!t?.mergedInto) break;
    id = t.mergedInto;
  }
  return id;
}

/** The account's ticket holding a message with one of these Message-IDs. */
async function ticketWithMessage(db: Db, accountId: string, messageIds: string[]): Promise<string | null> {
  const [m] = await db
    .select({ id: tickets.id })
    .from(ticketMessages)
    .innerJoin(tickets, eq(tickets.id, ticketMessages.ticketId))
    .where(and(inArray(ticketMessages.emailMessageId, messageIds), eq(tickets.accountId, accountId)))
    .limit(1);
  return m?.id ?? null;
}
