// The permission matrix (R-SEC-1, R-SEC-8): for every operation of the API, what the caller must
// hold, and for operations on one user (the path's user, or the user whose key or session it is)
// the rule for acting on yourself and on another user. The auth plugin reads it for every route
// (the routes of the table name no permission of their own), the services check the "another
// user" part with assertMayActOnUser, the OpenAPI document and the README show it, and
// test/modules/accounts/permission-matrix.test.ts calls every operation against it.
import type { RouteOptions } from 'fastify';
import { PermissionDenied, RoleNotAssignable } from './errors.js';
import {
  ALL_ROLES,
  mayAssignRole,
  mayGrantRole,
  RESELLER_ROLES,
  ROLE_PERMISSIONS,
  type Permission,
  type Role,
} from './permissions.js';

/**
 * - `'self'`: the caller's own user only (another user's: 403; another user's session: 404, since
 *   sessions are only ever looked up among your own).
 * - `{ others }`: yourself with `permission`; another user of your account needs `others` as well
 *   and, when `credentials` (keys, sessions, second factor, e-mail, password, status: R-SEC-8), a
 *   role that could assign the other user's role.
 */
export type Subject = 'self' | { others: Permission; credentials: boolean };

export interface OperationRule {
  /** What the caller must hold: a permission of its role, and for an API key the same scope. */
  permission: Permission | 'public';
  subject?: Subject;
}

export const OPERATION_PERMISSIONS = {
  getOpenApiDocument: { permission: 'public' },
  getHealth: { permission: 'public' },
  getReadiness: { permission: 'public' },
  login: { permission: 'public' },
  logout: { permission: 'profile:write', subject: 'self' },
  listSessions: { permission: 'profile:read', subject: 'self' },
  revokeSession: { permission: 'profile:write', subject: 'self' },
  getAccount: { permission: 'account:read' },
  updateAccount: { permission: 'account:write' },
  getAccountIpAllowlist: { permission: 'account:read' },
  setAccountIpAllowlist: { permission: 'account:write' },
  listUsers: { permission: 'users:read' },
  createUser: { permission: 'users:write' },
  getUser: { permission: 'profile:read', subject: { others: 'users:read', credentials: false } },
  updateUser: {
    permission: 'profile:write',
    subject: { others: 'users:write', credentials: true },
  },
  disableUser: { permission: 'users:write', subject: { others: 'users:write', credentials: true } },
  setUserPassword: {
    permission: 'profile:write',
    subject: { others: 'users:write', credentials: true },
  },
  startTwoFactorEnrolment: { permission: 'profile:write', subject: 'self' },
  disableTwoFactor: {
    permission: 'profile:write',
    subject: { others: 'users:write', credentials: true },
  },
  confirmTwoFactor: { permission: 'profile:write', subject: 'self' },
  listApiKeys: { permission: 'api_keys:read', subject: { others: 'users:read', credentials: true } },
  createApiKey: { permission: 'api_keys:write', subject: 'self' },
  getApiKey: { permission: 'api_keys:read', subject: { others: 'users:read', credentials: true } },
  revokeApiKey: { permission: 'api_keys:write', subject: { others: 'users:write', credentials: true } },
  rotateApiKey: { permission: 'api_keys:write', subject: { others: 'users:write', credentials: true } },
  listAuditEvents: { permission: 'audit:read' },
  getBalance: { permission: 'billing:read' },
  listTransactions: { permission: 'billing:read' },
  listEvents: { permission: 'events:read' },
  getEvent: { permission: 'events:read' },
  listEventTypes: { permission: 'events:read' },
  listNotificationRecipients: { permission: 'account:read' },
  setNotificationRecipients: { permission: 'account:write' },
  createWebhook: { permission: 'webhooks:write' },
  listWebhooks: { permission: 'webhooks:read' },
  getWebhook: { permission: 'webhooks:read' },
  updateWebhook: { permission: 'webhooks:write' },
  deleteWebhook: { permission: 'webhooks:write' },
  // Hands out a secret: write permission, like the changes.
  rotateWebhookSecret: { permission: 'webhooks:write' },
  adminListWebhooks: { permission: 'admin:read' },
  adminDisableWebhook: { permission: 'admin:write' },
  adminEnableWebhook: { permission: 'admin:write' },
  listWebhookDeliveries: { permission: 'webhooks:read' },
  getWebhookDelivery: { permission: 'webhooks:read' },
  retryWebhookDelivery: { permission: 'webhooks:write' },
  replayWebhookEvents: { permission: 'webhooks:write' },
  adminCreateAccount: { permission: 'admin:write' },
  adminListAccounts: { permission: 'admin:read' },
  adminGetAccount: { permission: 'admin:read' },
  adminUpdateAccount: { permission: 'admin:write' },
  adminSuspendAccount: { permission: 'admin:write' },
  adminResumeAccount: { permission: 'admin:write' },
  adminSetAccountIpAllowlist: { permission: 'admin:write' },
  adminCreditAccount: { permission: 'admin:write' },
  getFairUse: { permission: 'fair_use:read' },
  adminGetFairUseLimits: { permission: 'admin:read' },
  adminSetFairUseLimit: { permission: 'admin:write' },
  adminSetOperationCost: { permission: 'admin:write' },
  adminResetOperationCost: { permission: 'admin:write' },
  adminListGuardExemptions: { permission: 'admin:read' },
  adminSetGuardExemption: { permission: 'admin:write' },
  adminRemoveGuardExemption: { permission: 'admin:write' },
  listFairUseIncidents: { permission: 'fair_use:read' },
  createBulkNotice: { permission: 'fair_use:write' },
  listBulkNotices: { permission: 'fair_use:read' },
  adminListFairUseIncidents: { permission: 'admin:read' },
  adminUpdateFairUseIncident: { permission: 'admin:write' },
  adminLiftApiSuspension: { permission: 'admin:write' },
  adminGetFairUseLadder: { permission: 'admin:read' },
  adminSetFairUseLadder: { permission: 'admin:write' },
  listTlds: { permission: 'domains:read' },
  getTld: { permission: 'domains:read' },
  adminListTlds: { permission: 'admin:read' },
  adminSetTld: { permission: 'admin:write' },
  adminSetTldLists: { permission: 'admin:write' },
  createContact: { permission: 'domains:write' },
  listContacts: { permission: 'domains:read' },
  getContact: { permission: 'domains:read' },
  updateContact: { permission: 'domains:write' },
  deleteContact: { permission: 'domains:write' },
  checkDomains: { permission: 'domains:read' },
  registerDomain: { permission: 'domains:write' },
  listDomains: { permission: 'domains:read' },
  getDomain: { permission: 'domains:read' },
  updateDomain: { permission: 'domains:write' },
  deleteDomain: { permission: 'domains:write' },
  renewDomain: { permission: 'domains:write' },
  restoreDomain: { permission: 'domains:write' },
  lockDomain: { permission: 'domains:write' },
  unlockDomain: { permission: 'domains:write' },
  // A secret that moves the domain away: write permission, like the changes.
  getDomainAuthCode: { permission: 'domains:write' },
  resetDomainAuthCode: { permission: 'domains:write' },
  requestDomainTransfer: { permission: 'domains:write' },
  listDomainTransfers: { permission: 'domains:read' },
  getDomainTransfer: { permission: 'domains:read' },
  cancelDomainTransfer: { permission: 'domains:write' },
  resendDomainTransferApproval: { permission: 'domains:write' },
  approveDomainTransfer: { permission: 'public' },
  rejectDomainTransfer: { permission: 'public' },
  fileAbuseComplaint: { permission: 'public' },
  listAbuseComplaints: { permission: 'domains:read' },
  getAbuseComplaint: { permission: 'domains:read' },
  respondToAbuseComplaint: { permission: 'domains:write' },
  adminCreateAbuseComplaint: { permission: 'admin:write' },
  adminListAbuseComplaints: { permission: 'admin:read' },
  adminGetAbuseComplaint: { permission: 'admin:read' },
  adminCloseAbuseComplaint: { permission: 'admin:write' },
  createServer: { permission: 'licenses:write' },
  listServers: { permission: 'licenses:read' },
  getServer: { permission: 'licenses:read' },
  updateServer: { permission: 'licenses:write' },
  deleteServer: { permission: 'licenses:write' },
  listLicenseProducts: { permission: 'licenses:read' },
  listVendorPolicies: { permission: 'licenses:read' },
  quotePleskLicense: { permission: 'licenses:read' },
  orderPleskLicense: { permission: 'licenses:write' },
  listPleskLicenses: { permission: 'licenses:read' },
  getPleskLicense: { permission: 'licenses:read' },
  // A secret that installs the key: write permission, like the changes.
  getPleskActivationCode: { permission: 'licenses:write' },
  updatePleskLicense: { permission: 'licenses:write' },
  renewPleskLicense: { permission: 'licenses:write' },
  suspendPleskLicense: { permission: 'licenses:write' },
  resumePleskLicense: { permission: 'licenses:write' },
  terminatePleskLicense: { permission: 'licenses:write' },
  rebindPleskLicense: { permission: 'licenses:write' },
  reportPleskLicenseAddresses: { permission: 'licenses:write' },
  resolvePleskMultiUse: { permission: 'licenses:write' },
  adminListLicenses: { permission: 'admin:read' },
  adminImportLicenseReports: { permission: 'admin:write' },
  adminClearLicenseMultiUse: { permission: 'admin:write' },
  adminWaiveLicenseCharge: { permission: 'admin:write' },
  adminSetLicenseProduct: { permission: 'admin:write' },
  adminPublishVendorPolicy: { permission: 'admin:write' },
  addSpamFilterDomain: { permission: 'licenses:write' },
  listSpamFilterDomains: { permission: 'licenses:read' },
  getSpamFilterDomain: { permission: 'licenses:read' },
  updateSpamFilterDomain: { permission: 'licenses:write' },
  removeSpamFilterDomain: { permission: 'licenses:write' },
  adminImportMailboxReport: { permission: 'admin:write' },
  listHostingPlans: { permission: 'hosting:read' },
  listHostingAddonProducts: { permission: 'hosting:read' },
  quoteHostingSubscription: { permission: 'hosting:read' },
  purchaseHostingSubscription: { permission: 'hosting:write' },
  listHostingSubscriptions: { permission: 'hosting:read' },
  getHostingSubscription: { permission: 'hosting:read' },
  updateHostingSubscription: { permission: 'hosting:write' },
  quoteHostingRenewal: { permission: 'hosting:read' },
  renewHostingSubscription: { permission: 'hosting:write' },
  quoteHostingPlanChange: { permission: 'hosting:read' },
  changeHostingPlan: { permission: 'hosting:write' },
  getHostingUsage: { permission: 'hosting:read' },
  reportHostingUsage: { permission: 'hosting:write' },
  createHostingCustomer: { permission: 'hosting:write' },
  listHostingCustomers: { permission: 'hosting:read' },
  getHostingCustomer: { permission: 'hosting:read' },
  removeHostingCustomer: { permission: 'hosting:write' },
  suspendHostingCustomer: { permission: 'hosting:write' },
  resumeHostingCustomer: { permission: 'hosting:write' },
  quoteHostingAddon: { permission: 'hosting:read' },
  buyHostingAddon: { permission: 'hosting:write' },
  listHostingAddons: { permission: 'hosting:read' },
  getHostingAddon: { permission: 'hosting:write' },
  removeHostingAddon: { permission: 'hosting:write' },
  adminListHostingPlans: { permission: 'admin:read' },
  adminSetHostingPlan: { permission: 'admin:write' },
  adminListHostingAddonProducts: { permission: 'admin:read' },
  adminSetHostingAddonProduct: { permission: 'admin:write' },
  adminSuspendHostingSubscription: { permission: 'admin:write' },
  adminResumeHostingSubscription: { permission: 'admin:write' },
  listTicketPriorities: { permission: 'tickets:read' },
  createTicket: { permission: 'tickets:write' },
  listTickets: { permission: 'tickets:read' },
  getTicket: { permission: 'tickets:read' },
  addTicketMessage: { permission: 'tickets:write' },
  provideTicketInformation: { permission: 'tickets:write' },
  suspendTicket: { permission: 'tickets:write' },
  resumeTicket: { permission: 'tickets:write' },
  revokeTicket: { permission: 'tickets:write' },
  objectToTicketClose: { permission: 'tickets:write' },
  requestTicketPriority: { permission: 'tickets:write' },
  getTicketAttachment: { permission: 'tickets:read' },
  adminTicketQueue: { permission: 'admin:read' },
  adminCreateTicket: { permission: 'admin:write' },
  adminTicketSlaReport: { permission: 'admin:read' },
  adminReceiveTicketEmail: { permission: 'inbound_email:write' },
  adminListTicketEmails: { permission: 'admin:read' },
  adminGetTicket: { permission: 'admin:read' },
  adminGetTicketAttachment: { permission: 'admin:read' },
  adminAssignTicket: { permission: 'admin:write' },
  adminReplyTicket: { permission: 'admin:write' },
  adminAddTicketNote: { permission: 'admin:write' },
  adminRequestTicketInformation: { permission: 'admin:write' },
  adminCloseTicket: { permission: 'admin:write' },
  adminSetTicketPriority: { permission: 'admin:write' },
  adminSetTicketProductTeam: { permission: 'admin:write' },
  adminPauseTicketClock: { permission: 'admin:write' },
  adminUnpauseTicketClock: { permission: 'admin:write' },
  adminWaiveTicketDeadline: { permission: 'admin:write' },
  adminSplitTicket: { permission: 'admin:write' },
  adminMergeTickets: { permission: 'admin:write' },
  adminListCalendars: { permission: 'admin:read' },
  adminGetCalendar: { permission: 'admin:read' },
  adminSetCalendar: { permission: 'admin:write' },
  adminRemoveCalendar: { permission: 'admin:write' },
  adminSetTicketPriorityCriteria: { permission: 'admin:write' },
  adminGrantBundledWhmcs: { permission: 'admin:write' },
} as const satisfies Record<string, OperationRule>;

export type OperationId = keyof typeof OPERATION_PERMISSIONS;

export function operationRule(operationId: string): OperationRule | undefined {
  return (OPERATION_PERMISSIONS as Record<string, OperationRule>)[operationId];
}

// ---- acting on another user (R-SEC-8) --------------------------------------------------------

interface Actor {
  userId: string;
  role: Role;
  permissions: ReadonlySet<Permission>;
}

export type Refusal = { code: 'permission_denied' | 'role_not_assignable'; detail: string };

/** Why `actor` may not run `operationId` on `target` (null: it may). The route-level permission is checked before. */
export function refusalToActOnUser(
  actor: Actor,
  target: { id: string; role: string },
  operationId: OperationId,
): Refusal | null {
  if (target.id === actor.userId) return null;
  const subject = (OPERATION_PERMISSIONS[operationId] as OperationRule).subject;
  if (!subject || subject === 'self')
    return { code: 'permission_denied', detail: 'Only the user themself can do this' };
  if (!actor.permissions.has(subject.others)) {
    return { code: 'permission_denied', detail: `Doing this to another user needs the ${subject.others} permission` };
  }
  // Changing another user's credentials takes what granting their role takes (a key's scopes
  // included); reading them takes only a role that could assign theirs.
  const changes = subject.others.endsWith(':write');
  if (
    subject.credentials &&
    !(changes ? mayGrantRole(actor, target.role as Role) : mayAssignRole(actor.role, target.role as Role))
  ) {
    return {
      code: 'role_not_assignable',
      detail: mayAssignRole(actor.role, target.role as Role)
        ? `This API key's scopes do not hold every permission of a ${target.role}, so it cannot act on their credentials (R-SEC-8)`
        : `A ${actor.role} cannot act on the credentials of a ${target.role}, a role it could not assign (R-SEC-8)`,
    };
  }
  return null;
}

/** The one check every service runs before it touches another user or one of their credentials. */
export function assertMayActOnUser(actor: Actor, target: { id: string; role: string }, operationId: OperationId): void {
  const refusal = refusalToActOnUser(actor, target, operationId);
  if (!refusal) return;
  throw refusal.code === 'role_not_assignable'
    ? new RoleNotAssignable(refusal.detail)
    : new PermissionDenied(refusal.detail);
}

// ---- the routes and the document ----------------------------------------------------------

const SECURITY_SCHEMES = ['bearerAuth', 'hmacSignature'] as const;

/**
 * Called by the auth plugin for every documented route: the route's permission comes from the
 * table, and the OpenAPI operation shows it: the scope in its security requirements,
 * `x-permission`, `x-roles` and a sentence in its description. An operation of the table whose
 * route names a permission of its own stops the app. Only a route outside the table (a test's own
 * route) may name one; test/modules/accounts/permission-matrix.test.ts fails for any operation of
 * the document that the table lacks.
 */
export function applyOperationPermission(route: RouteOptions): Permission | 'public' {
  const where = `${String(route.method)} ${route.url}`;
  const operationId = route.schema?.operationId;
  const listed = typeof operationId === 'string' ? operationRule(operationId) : undefined;
  const own = route.config?.permission;
  if (listed && own !== undefined)
    throw new Error(
      `${where}: permissions live in OPERATION_PERMISSIONS (src/modules/accounts/operation-permissions.ts), not in the route`,
    );
  const rule: OperationRule | undefined = listed ?? (own !== undefined ? { permission: own } : undefined);
  if (!rule)
    throw new Error(
      `${where}: add operation ${String(operationId)} to OPERATION_PERMISSIONS (src/modules/accounts/operation-permissions.ts)`,
    );
  route.config = { ...route.config, permission: rule.permission };
  const schema = (route.schema ??= {}) as Record<string, unknown>;
  if (rule.permission === 'public') {
    schema.security = [];
    schema['x-permission'] = 'public';
    return rule.permission;
  }
  schema.security = SECURITY_SCHEMES.map((name) => ({ [name]: [rule.permission] }));
  schema['x-permission'] = rule.permission;
  schema['x-roles'] = ALL_ROLES.filter((role) => ROLE_PERMISSIONS[role].has(rule.permission as Permission));
  if (rule.subject && rule.subject !== 'self') {
    schema['x-on-other-users'] = { permission: rule.subject.others, role_must_be_assignable: rule.subject.credentials };
  } else if (rule.subject === 'self') {
    schema['x-on-other-users'] = false;
  }
  const sentence = permissionSentence(rule);
  // A GET's schema object is shared with its HEAD route, which comes through here too.
  if (typeof schema.description !== 'string') schema.description = sentence;
  else if (!schema.description.endsWith(sentence)) schema.description = `${schema.description}\n\n${sentence}`;
  return rule.permission;
}

/** The description sentence: what the caller needs, in words an SDK user reads. */
export function permissionSentence(rule: OperationRule): string {
  if (rule.permission === 'public') return 'Public: no credential needed.';
  const roles = ALL_ROLES.filter((role) => ROLE_PERMISSIONS[role].has(rule.permission as Permission));
  let s = `Needs the \`${rule.permission}\` permission (an API key: the \`${rule.permission}\` scope); roles: ${roles.join(', ')}.`;
  if (rule.subject === 'self') s += ' Acts on your own user only.';
  else if (rule.subject) {
    s += ` On another user of the account it also needs \`${rule.subject.others}\``;
    s += rule.subject.credentials
      ? ', and a role that could assign theirs (an owner reaches everyone, an admin everyone but owners; R-SEC-8).'
      : '.';
  }
  return s;
}

// ---- the README table -----------------------------------------------------------------------

/** One cell of the role × operation table. */
function cell(role: Role, rule: OperationRule): string {
  if (rule.permission === 'public') return 'public';
  if (!ROLE_PERMISSIONS[role].has(rule.permission)) return '-';
  const subject = rule.subject;
  if (!subject) return 'yes';
  if (subject === 'self' || !ROLE_PERMISSIONS[role].has(subject.others)) return 'self';
  if (!subject.credentials) return 'any user';
  const unreachable = RESELLER_ROLES.filter((r) => !mayAssignRole(role, r));
  if (unreachable.length === RESELLER_ROLES.length) return 'self';
  return unreachable.length === 0 ? 'any user' : `all but ${unreachable.join(', ')}s`;
}

/** The README's permission matrix, generated from the table (a test checks the README holds it). */
export function renderPermissionTable(routes: { operationId: string; method: string; path: string }[]): string {
  const head = `| operation | | scope (API key) | ${ALL_ROLES.join(' | ')} |`;
  const rule = `|---|---|---|${ALL_ROLES.map(() => '---').join('|')}|`;
  const rows = routes.map(({ operationId, method, path }) => {
    const r = operationRule(operationId);
    if (!r) throw new Error(`${operationId} is not in OPERATION_PERMISSIONS`);
    const others =
      r.subject && r.subject !== 'self' && r.subject.others !== r.permission
        ? ` (+ \`${r.subject.others}\` on others)`
        : '';
    const scope = r.permission === 'public' ? '' : `\`${r.permission}\`${others}`;
    return `| ${operationId} | \`${method} ${path}\` | ${scope} | ${ALL_ROLES.map((role) => cell(role, r)).join(' | ')} |`;
  });
  return [head, rule, ...rows].join('\n');
}
