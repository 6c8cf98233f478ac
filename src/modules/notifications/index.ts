// The notifications area (issue 13 item 7): an account's e-mail recipients per group of event types
// (/v1/notification-recipients) and, when SMTP_URL is set, e-mails of its events sent through the
// relay from the outbox: a fan-out sink queues one job per recipient, the job sends it (retried with
// backoff, then dead-lettered). SMTP_URL unset: recipients can be kept, nothing is queued or sent.
import type { FastifyInstance } from 'fastify';
import type { AreaOptions } from '../area.js';
import { createAccountReader } from '../accounts/api.js';
import { createEmailService, EMAIL_JOB } from './email-service.js';
import { createRecipientService } from './recipient-service.js';
import { notificationRoutes } from './routes.js';

/** Retries of a refused or failed send: 30 s doubled each time (with jitter), about 4 hours in all. */
export const EMAIL_JOB_OPTIONS = { every: false, retries: 8, retryDelayMs: 30_000, backoff: true } as const;

export default async function notificationsArea(app: FastifyInstance, { config }: AreaOptions): Promise<void> {
  const recipients = createRecipientService({ db: app.db });
  const mailer = app.mailer;
  if (mailer) {
    const email = createEmailService({
      db: app.db,
      accounts: createAccountReader({ db: app.db }),
      transport: mailer,
      from: mailer.from,
      publicUrl: config.publicUrl,
      enqueue: (payloads, tx) => app.jobs.enqueueMany(EMAIL_JOB, payloads, { tx }),
    });
    app.eventFanout.addSink('email', email.sink);
    app.jobs.register(EMAIL_JOB, (_now, payload) => email.send(payload), EMAIL_JOB_OPTIONS);
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
  await app.register(notificationRoutes, { recipients, emailEnabled: mailer !== null });
}
