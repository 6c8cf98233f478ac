// Fair use's event types (group `fair_use`, R-API-4). Each is written in the transaction that
// records the incident, takes the ladder's step or lifts the suspension (incidents.ts,
// incident-service.ts), so a change that rolls back leaves no event.
import { defineEventType } from '../events/api.js';
import { Transaction } from '../billing/api.js';
import { Incident, LiftedStanding, Standing } from './schemas.js';

export const IncidentOpened = defineEventType({
  type: 'fair_use.incident_opened',
  group: 'fair_use',
  objectType: 'fair_use_incident',
  summary: 'A fair-use incident was recorded (R-API-4); data is the incident, with the ladder steps it triggered',
  data: Incident,
});

export const Warning = defineEventType({
  type: 'fair_use.warning',
  group: 'fair_use',
  objectType: 'fair_use_incident',
  summary: "The ladder's warning step fired with this incident; data is the incident",
  data: Incident,
});

export const ApiSuspended = defineEventType({
  type: 'fair_use.api_suspended',
  group: 'fair_use',
  objectType: 'account',
  summary:
    "The ladder suspended the account's API access (or extended a suspension); data is the standing of GET /v1/fair-use",
  data: Standing,
});

export const ApiSuspensionLifted = defineEventType({
  type: 'fair_use.api_suspension_lifted',
  group: 'fair_use',
  objectType: 'account',
  summary:
    'An API suspension ended: lifted by an operator, or expired (reported when the server notices); data is the standing and lifted_by',
  data: LiftedStanding,
});

export const FeeCharged = defineEventType({
  type: 'fair_use.fee_charged',
  group: 'fair_use',
  objectType: 'transaction',
  summary: "The ladder's handling fee was charged; data is the ledger entry (reference incident:<id>)",
  data: Transaction,
});
