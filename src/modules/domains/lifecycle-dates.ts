// The lifecycle dates of a domain, computed in one place from its expiry and its TLD's periods.
// They are stored on the domain row whenever expires_at changes, and the API and the sweeps both
// read the stored values: one source of truth (R-DOM-5 periods, issue 5 item 7).
import type { TldRow } from './tld-service.js';

const DAY_MS = 86_400_000;

export interface LifecycleDates {
  graceEndsAt: Date;
  redemptionEndsAt: Date;
  purgeAt: Date;
}

type Periods = Pick<TldRow, 'autoRenewGraceDays' | 'redemptionDays' | 'pendingDeleteDays'>;

/** After expiry: auto-renew grace, then redemption, then pending delete, then the name is released. */
export function lifecycleDates(expiresAt: Date, rules: Periods): LifecycleDates {
  const graceEndsAt = new Date(expiresAt.getTime() + rules.autoRenewGraceDays * DAY_MS);
  return afterGrace(graceEndsAt, rules);
}

/** A deletion (or the end of grace) starts redemption at `from`. */
export function afterGrace(from: Date, rules: Pick<Periods, 'redemptionDays' | 'pendingDeleteDays'>): LifecycleDates {
  const redemptionEndsAt = new Date(from.getTime() + rules.redemptionDays * DAY_MS);
  return {
    graceEndsAt: from,
    redemptionEndsAt,
    purgeAt: new Date(redemptionEndsAt.getTime() + rules.pendingDeleteDays * DAY_MS),
  };
}
