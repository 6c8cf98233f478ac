// R-API-4: `app.incidents.record(...)` for every module that detects a breach. Records the incident,
// applies the ladder, and makes a new API suspension bite at once on this instance.
import fp from 'fastify-plugin';
import { recordIncident, type IncidentType, type RecordedIncident } from '../modules/fair-use/api.js';

declare module 'fastify' {
  interface FastifyInstance {
    incidents: {
      /** `at`: when it happened; default the fair-use clock's now. A function property: it is passed around detached. */
      record: (input: {
        accountId: string;
        type: IncidentType;
        dedupeKey: string;
        evidence: Record<string, unknown>;
        at?: Date;
      }) => Promise<RecordedIncident | null>;
    };
  }
}

export default fp<{ periodDays: number; now?: () => Date }>(
  async function incidentsPlugin(app, opts) {
    const now = opts.now ?? (() => new Date());
    app.decorate('incidents', {
      async record(input) {
        const recorded = await recordIncident(app.db, { ...input, at: input.at ?? now() }, opts.periodDays);
        if (recorded) {
          app.log.warn(
            {
              account_id: input.accountId,
              incident: input.type,
              incident_id: recorded.id,
              open_in_period: recorded.openInPeriod,
              counted: recorded.counted,
              days: recorded.days,
              actions: recorded.actions,
            },
            'fair-use incident',
          );
          if (recorded.apiSuspendedUntil) app.credentialCache.revoke({ accountId: input.accountId });
        }
        return recorded;
      },
    });
  },
  { name: 'incidents', fastify: '5.x', dependencies: ['db', 'auth'] },
);
