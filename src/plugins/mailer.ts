// Outgoing e-mail through the relay at SMTP_URL (nodemailer's pooled SMTP transport), for every area
// that sends mail: event notifications, and the approval request that reaches a domain's owner on a
// transfer (R-DOM-3). `app.mailer` is null when SMTP_URL is unset: e-mail is off.
// nodemailer is loaded only when e-mail is on.
import fp from 'fastify-plugin';

/** One plain-text e-mail to one address. */
export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  messageId: string;
  headers: Record<string, string>;
}

/** The SMTP relay as the areas need it. Rejects when the relay refuses the mail or cannot be reached. */
export interface MailTransport {
  send(mail: OutgoingMail): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The relay, with the From address outgoing mail carries; null: SMTP_URL unset, e-mail off. */
    mailer: (MailTransport & { from: string }) | null;
  }
}

/** nodemailer's SMTP transport for SMTP_URL (smtp://user:pass@host:587, smtps://host:465). */
async function smtpTransport(url: string): Promise<{ send: MailTransport['send']; close(): void }> {
  const { createTransport } = await import('nodemailer');
  const transporter = createTransport({
    url,
    // Connections kept open and reused: a new SMTP connection per e-mail costs ~120 ms on loopback,
    // a pooled one ~7 ms (up to 5 connections, 100 e-mails each).
    pool: true,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
  return {
    send: async (mail) => {
      await transporter.sendMail({
        from: mail.from,
        // As an address object: nodemailer takes it as one address, never parses it into several.
        to: { name: '', address: mail.to },
        subject: mail.subject,
        text: mail.text,
        messageId: mail.messageId,
        headers: mail.headers,
      });
    },
    close: () => transporter.close(),
  };
}

/** The domain of the From address (for Message-IDs); a From without one gets a reserved name. */
export function senderDomain(from: string): string {
  const m = /@([^\s<>@"]+)\s*>?\s*$/.exec(from.trim());
  return m?.[1]?.toLowerCase() ?? 'reseller-api.invalid';
}

export default fp<{ smtpUrl: string | undefined; from: string }>(
  async function mailerPlugin(app, opts) {
    if (!opts.smtpUrl) {
      app.decorate('mailer', null);
      return;
    }
    const transport = await smtpTransport(opts.smtpUrl);
    app.decorate('mailer', { send: transport.send, from: opts.from });
    app.addHook('onClose', async () => transport.close());
  },
  { name: 'mailer', fastify: '5.x' },
);
