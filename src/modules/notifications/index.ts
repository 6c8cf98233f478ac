// The notifications area (issue 13 item 7): an account's e-mail recipients per group of event types
// (/v1/notification-recipients) and, when SMTP_URL is set, e-mails of its events sent through the
// relay from the outbox: a fan-out sink queues one job per recipient, the job sends it (retried with
// backoff, then dead-lettered). SMTP_URL unset: recipients can be kept, nothing is queued or sent.
import type { FastifyInstance } from 'fastify';
import { createTransport } from 'nodemailer';
import type { AreaOptions } from '../area.js';
import { createAccountReader } from '../accounts/api.js';
import { createEmailService, EMAIL_JOB, type MailTransport } from './email-service.js';
import { createRecipientService } from './recipient-service.js';
import { notificationRoutes } from './routes.js';

/** Retries of a refused or failed send: 30 s doubled each time (with jitter), about 4 hours in all. */
export const EMAIL_JOB_OPTIONS = { every: false, retries: 8, retryDelayMs: 30_000, backoff: true } as const;

/** nodemailer's SMTP transport for SMTP_URL (smtp://user:pass@host:587, smtps://host:465). */
function smtpTransport(url: string): MailTransport & { close(): void } {
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
    async send(mail) {
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

export default async function notificationsArea(app: FastifyInstance, { config }: AreaOptions): Promise<void> {
  const recipients = createRecipientService({ db: app.db });
  const smtpUrl = config.mail.smtpUrl;
  if (smtpUrl) {
    const transport = smtpTransport(smtpUrl);
    const email = createEmailService({
      db: app.db,
      accounts: createAccountReader({ db: app.db }),
      transport,
      from: config.mail.from,
      publicUrl: config.publicUrl,
      enqueue: (payloads, tx) => app.jobs.enqueueMany(EMAIL_JOB, payloads, { tx }),
    });
    app.eventFanout.addSink('email', email.sink);
    app.jobs.register(EMAIL_JOB, (_now, payload) => email.send(payload), EMAIL_JOB_OPTIONS);
    app.addHook('onClose', async () => transport.close());
  } else {
    // Mail off: e-mails queued while it was on are dropped, not retried into the dead letters.
    app.jobs.register(
      EMAIL_JOB,
      async (_now, payload) => {
        app.log.warn({ job: EMAIL_JOB, payload }, 'e-mail is off (SMTP_URL unset): queued e-mail dropped');
        return 0;
      },
      EMAIL_JOB_OPTIONS,
    );
  }
  await app.register(notificationRoutes, { recipients, emailEnabled: smtpUrl !== undefined });
}
