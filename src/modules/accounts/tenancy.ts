// Which account a request acts for: the tenant of a principal (R-SEC-6).
import { NotFound } from '../../errors.js';
import type { Principal } from './credentials.js';

/** The caller's own account id; operators have none and get 404 on tenant routes. */
export function tenantOf(principal: Principal | null): string {
  if (!principal?.accountId) throw new NotFound('This route serves reseller accounts');
  return principal.accountId;
}
