// The approval request of a transfer (R-DOM-3), e-mailed to the domain's owner of record: the owner
// contact's address of a name sponsored here, the registrant's of a name held at another registrar.
// The gaining reseller never sees the token, so a transfer goes ahead only with the owner's answer.
//
// The request queues one job in its own transaction, carrying the token sealed with the master key;
// the job reads the transfer, sends the mail through the relay (retried with backoff, then
// dead-lettered) and records when the relay took it. A job whose transfer is no longer waiting, or
// whose token a resend replaced, sends nothing.
import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { domainTransfers } from '../../db/schema/index.js';
import { senderDomain, type MailTransport, type OutgoingMail } from '../../plugins/mailer.js';

export const APPROVAL_MAIL_JOB = 'domain-transfer-approval-mail';
/** Retries of a refused or failed send: 30 s doubled each time (with jitter), about 4 hours in all. */
export const APPROVAL_MAIL_JOB_OPTIONS = { every: false, retries: 8, retryDelayMs: 30_000, backoff: true } as const;

/** What the queued job carries: the transfer and its approval token, sealed. */
export interface ApprovalMailPayload {
  transferId: string;
  sealedToken: string;
}

export const approvalTokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * A plain address the relay can take (local@domain, no display name, one address): the `email`
 * format of ajv-formats, which validates our own Email fields, and at most 254 characters.
 */
export function isMailAddress(address: string): boolean {
  return (
    address.length <= 254 &&
    /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i.test(
      address,
    )
  );
}

/**
 * An address as the resellers see it: the first character of the local part and the domain
 * (`j***@pekarna.test`), enough to tell the owner where to look without handing the losing side's
 * customer data to the gaining reseller.
 */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${Array.from(address.slice(0, at))[0]}***${address.slice(at)}`;
}

/** An account's name as one short line of the mail: no line breaks to forge text of our own with. */
const oneLine = (text: string, max = 80) => {
  const flat = text.replace(/\s+/gu, ' ').trim();
  return flat.length > max
    ? `${Array.from(flat)
        .slice(0, max - 1)
        .join('')}…`
    : flat;
};

const utc = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export interface ApprovalMailDeps {
  db: Db;
  transport: MailTransport & { from: string };
  open(sealed: string): string;
  publicUrl: string | undefined;
  /** The gaining reseller's name, as the owner reads it. */
  accountName(accountId: string): Promise<string | undefined>;
}

type TransferRow = typeof domainTransfers.$inferSelect;

/** The mail for one transfer and token. */
export function approvalMail(
  t: TransferRow,
  token: string,
  opts: { from: string; publicUrl: string | undefined; gainingName: string | undefined },
): OutgoingMail {
  const shown = t.unicodeName === t.name ? t.name : `${t.unicodeName} (${t.name})`;
  const base = `${opts.publicUrl ?? ''}/v1/domain-transfers/${t.id}`;
  const who = opts.gainingName ? `The reseller "${oneLine(opts.gainingName)}"` : 'A reseller';
  const text = [
    `${who} asked on ${utc(t.requestedAt)} to transfer the domain ${shown} to its account with us`,
    `(with the domain's auth code where its registry requires one). You receive this as the domain's`,
    'owner of record.',
    '',
    `The transfer goes ahead only if you approve it by ${utc(t.expiresAt)}. Without your answer it`,
    'expires and the domain stays where it is.',
    '',
    'If you did not ask for this transfer, reject it (or let it expire); if the domain has an auth code,',
    'ask your current provider for a new one.',
    '',
    `Transfer:       ${t.id}`,
    `Approval token: ${token}`,
    '',
    'To approve:',
    `  curl -X POST ${base}/approve -H 'content-type: application/json' \\`,
    `    -d '{"token": "${token}"}'`,
    'To reject:',
    `  curl -X POST ${base}/reject -H 'content-type: application/json' \\`,
    `    -d '{"token": "${token}", "reason": "I did not ask for this"}'`,
    '',
    'Whoever has this token can approve or reject the transfer: give it only to a service you trust',
    'to answer for you. A newer approval e-mail for this transfer replaces this one.',
  ].join('\n');
  return {
    from: opts.from,
    to: t.approvalSentTo!,
    subject: `Approve or reject the transfer of ${shown}`,
    text,
    messageId: `<transfer-approval.${t.id}.${t.approvalMails}@${senderDomain(opts.from)}>`,
    headers: {
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'All',
      'X-Reseller-Transfer-Id': t.id,
    },
  };
}

/** The job: sends one approval e-mail; 1 when sent, 0 when there was nothing to send. Throws when the relay fails. */
export async function sendApprovalMail(deps: ApprovalMailDeps, payload: unknown, now: Date): Promise<number> {
  const p = payload as Partial<ApprovalMailPayload> | null;
  if (typeof p?.transferId !== 'string' || typeof p.sealedToken !== 'string')
    throw new Error(`${APPROVAL_MAIL_JOB}: payload has no transferId and sealedToken`);
  const [t] = await deps.db.select().from(domainTransfers).where(eq(domainTransfers.id, p.transferId));
  if (!t || t.status !== 'pending_approval' || t.expiresAt <= now || !t.approvalSentTo) return 0;
  const token = deps.open(p.sealedToken);
  if (approvalTokenHash(token) !== t.approvalTokenHash) return 0; // a resend replaced it
  const mail = approvalMail(t, token, {
    from: deps.transport.from,
    publicUrl: deps.publicUrl,
    gainingName: await deps.accountName(t.accountId),
  });
  await deps.transport.send(mail);
  await deps.db
    .update(domainTransfers)
    .set({ approvalMailedAt: now })
    .where(and(eq(domainTransfers.id, t.id), eq(domainTransfers.approvalTokenHash, t.approvalTokenHash)));
  return 1;
}

/** Queues the approval e-mail for `token` in the caller's transaction. */
export type QueueApprovalMail = (tx: Tx, payload: ApprovalMailPayload) => Promise<unknown>;
