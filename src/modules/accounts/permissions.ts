// Roles and what they may do (R-SEC-1). Every operation names one permission (the table in
// operation-permissions.ts); API keys carry a subset of their user's permissions as scopes.
import { PermissionDenied } from './errors.js';

export const RESELLER_PERMISSIONS = [
  'profile:read',
  'profile:write',
  'account:read',
  'account:write',
  'users:read',
  'users:write',
  'api_keys:read',
  'api_keys:write',
  'audit:read',
  'billing:read',
  'domains:read',
  'domains:write',
  'licenses:read',
  'licenses:write',
  'hosting:read',
  'hosting:write',
  'tickets:read',
  'tickets:write',
  'fair_use:read',
  'fair_use:write',
  'events:read',
  'webhooks:read',
  'webhooks:write',
] as const;

/** Your own user: its profile, password, second factor and login sessions. Every role holds both. */
const PROFILE: Permission[] = ['profile:read', 'profile:write'];

export const OPERATOR_PERMISSIONS = [
  'profile:read',
  'profile:write',
  'api_keys:read',
  'api_keys:write',
  'admin:read',
  'admin:write',
  'audit:read',
  // The ticket e-mail intake alone (R-TKT-10): what an MTA's key needs, and nothing else.
  'inbound_email:write',
] as const;

export type Permission = (typeof RESELLER_PERMISSIONS)[number] | (typeof OPERATOR_PERMISSIONS)[number];
export const ALL_PERMISSIONS: readonly Permission[] = [
  ...new Set<Permission>([...RESELLER_PERMISSIONS, ...OPERATOR_PERMISSIONS]),
];

export const RESELLER_ROLES = ['owner', 'admin', 'technical', 'billing', 'support', 'read_only'] as const;
export type ResellerRole = (typeof RESELLER_ROLES)[number];
export type Role = ResellerRole | 'operator';
export const ALL_ROLES: readonly Role[] = [...RESELLER_ROLES, 'operator'];

const reads = RESELLER_PERMISSIONS.filter((p) => p.endsWith(':read') && p !== 'audit:read' && p !== 'profile:read');
const own: Permission[] = ['api_keys:read', 'api_keys:write'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  owner: new Set(RESELLER_PERMISSIONS),
  admin: new Set(RESELLER_PERMISSIONS),
  technical: new Set<Permission>([
    ...PROFILE,
    ...reads,
    ...own,
    'domains:write',
    'licenses:write',
    'hosting:write',
    'tickets:write',
    'fair_use:write',
    'webhooks:write',
  ]),
  billing: new Set<Permission>([...PROFILE, ...reads, ...own, 'tickets:write']),
  support: new Set<Permission>([...PROFILE, ...reads, ...own, 'tickets:write']),
  read_only: new Set<Permission>([...PROFILE, ...reads, 'api_keys:read']),
  operator: new Set(OPERATOR_PERMISSIONS),
};

/** Who may grant which role: nobody hands out more than they hold; only owners make owners. */
export function mayAssignRole(actor: Role, target: Role): boolean {
  if (actor === 'owner') return target !== 'operator';
  if (actor === 'admin') return target !== 'owner' && target !== 'operator';
  return false;
}

/**
 * Whether this credential may grant `target` (or act on the credentials of a user holding it): its
 * role may assign it, and it holds every permission of that role. A session holds its role's
 * permissions, so for a session this is `mayAssignRole`; an API key of an owner with only the
 * users:write scope grants no role at all (nobody hands out more than they hold, keys included).
 */
export function mayGrantRole(actor: { role: Role; permissions: ReadonlySet<Permission> }, target: Role): boolean {
  if (!mayAssignRole(actor.role, target)) return false;
  for (const p of ROLE_PERMISSIONS[target]) if (!actor.permissions.has(p)) return false;
  return true;
}

/** The roles whose users `actor` may act on (R-SEC-8): the roles it could assign. */
export const rolesWithinReach = (actor: Role): ResellerRole[] => RESELLER_ROLES.filter((r) => mayAssignRole(actor, r));

/**
 * The one route-level check (R-SEC-1): a session holds its user's role permissions, an API key its
 * scopes within them. The auth plugin calls it with the permission the operation table names.
 */
export function assertHolds(holder: { permissions: ReadonlySet<Permission> }, permission: Permission): void {
  if (!holder.permissions.has(permission))
    throw new PermissionDenied(`This needs the ${permission} permission (for an API key: the ${permission} scope)`);
}
