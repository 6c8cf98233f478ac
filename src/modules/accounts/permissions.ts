// Roles and what they may do (R-SEC-1). Routes name one permission; API keys carry a subset.
export const RESELLER_PERMISSIONS = [
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
] as const;

export const OPERATOR_PERMISSIONS = ['admin:read', 'admin:write', 'audit:read'] as const;

export type Permission = (typeof RESELLER_PERMISSIONS)[number] | (typeof OPERATOR_PERMISSIONS)[number];
export const ALL_PERMISSIONS: readonly Permission[] = [...new Set<Permission>([...RESELLER_PERMISSIONS, ...OPERATOR_PERMISSIONS])];

export const RESELLER_ROLES = ['owner', 'admin', 'technical', 'billing', 'support', 'read_only'] as const;
export type ResellerRole = (typeof RESELLER_ROLES)[number];
export type Role = ResellerRole | 'operator';

const reads = RESELLER_PERMISSIONS.filter((p) => p.endsWith(':read') && p !== 'audit:read');
const own: Permission[] = ['api_keys:read', 'api_keys:write'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  owner: new Set(RESELLER_PERMISSIONS),
  admin: new Set(RESELLER_PERMISSIONS),
  technical: new Set<Permission>([...reads, ...own, 'domains:write', 'licenses:write', 'hosting:write', 'tickets:write', 'fair_use:write']),
  billing: new Set<Permission>([...reads, ...own, 'tickets:write']),
  support: new Set<Permission>([...reads, ...own, 'tickets:write']),
  read_only: new Set<Permission>([...reads, 'api_keys:read']),
  operator: new Set(OPERATOR_PERMISSIONS),
};

/** Who may grant which role: nobody hands out more than they hold; only owners make owners. */
export function mayAssignRole(actor: Role, target: Role): boolean {
  if (actor === 'owner') return target !== 'operator';
  if (actor === 'admin') return target !== 'owner' && target !== 'operator';
  return false;
}
