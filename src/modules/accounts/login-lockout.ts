// R-API-5 per username: consecutive failed logins of one username as typed, each within the failure
// window of the one before, lock that username for the lockout time. The count is keyed by the name,
// not by a user row, so a name nobody has is counted and locked exactly like a real one.
import { eq, lt, sql } from 'drizzle-orm';
import { queryRows, type Db, type Tx } from '../../db/client.js';
import { loginNameFailures, users } from '../../db/schema/index.js';

export interface LockoutPolicy {
  maxFailuresPerUser: number;
  failureWindowS: number;
  lockoutS: number;
}

/**
 * The form a username is counted and looked up under (case-insensitive): ASCII letters folded,
 * nothing else. Usernames are ASCII (their pattern), so a spelling with any other letter names no
 * user; folding it with Unicode's rules instead (toLowerCase turns U+0130 into "i" and a combining
 * dot, PostgreSQL's lower() into "i") made "bİllie" a second count for billie's password guesses
 * that still logged in as billie.
 */
export const usernameKey = (username: string): string => username.replace(/[A-Z]+/g, (s) => s.toLowerCase());

/** Until when logins with this username are refused, or null when they are not. */
export async function usernameLockedUntil(db: Db, username: string, now: Date): Promise<Date | null> {
  const [row] = await db
    .select({ lockedUntil: loginNameFailures.lockedUntil })
    .from(loginNameFailures)
    .where(eq(loginNameFailures.username, usernameKey(username)));
  return row?.lockedUntil && row.lockedUntil > now ? row.lockedUntil : null;
}

/**
 * Counts a failure for the username; when it reaches the limit, locks the name (and, when a user has
 * it, shows the lock on the user) and returns until when.
 */
export async function recordUsernameFailure(
  db: Db,
  policy: LockoutPolicy,
  username: string,
  userId: string | null,
  now: Date,
): Promise<Date | null> {
  const key = usernameKey(username);
  const windowStart = new Date(now.getTime() - policy.failureWindowS * 1000);
  // One atomic statement: parallel guesses cannot slip past the limit.
  const [row] = await queryRows<{ failures: number }>(
    db,
    sql`insert into login_name_failures as f (username, failures, last_failure_at)
        values (${key}, 1, ${now.toISOString()})
        on conflict (username) do update set
          failures = case when f.last_failure_at < ${windowStart.toISOString()} then 1 else f.failures + 1 end,
          last_failure_at = excluded.last_failure_at
        returning failures`,
  );
  if ((row?.failures ?? 0) < policy.maxFailuresPerUser) return null;
  const lockedUntil = new Date(now.getTime() + policy.lockoutS * 1000);
  await db.update(loginNameFailures).set({ failures: 0, lockedUntil }).where(eq(loginNameFailures.username, key));
  if (userId) await db.update(users).set({ lockedUntil }).where(eq(users.id, userId));
  return lockedUntil;
}

/** After a successful login or a password reset: the count starts again and any lock is lifted. */
export async function clearUsernameFailures(db: Tx, username: string): Promise<void> {
  await db.delete(loginNameFailures).where(eq(loginNameFailures.username, usernameKey(username)));
}

/** Rows neither counting (last failure older than the window) nor locking any more. */
export function deleteSpentUsernameFailures(db: Db, policy: LockoutPolicy, now: Date) {
  const windowStart = new Date(now.getTime() - policy.failureWindowS * 1000);
  return db
    .delete(loginNameFailures)
    .where(
      sql`${lt(loginNameFailures.lastFailureAt, windowStart)} and (${loginNameFailures.lockedUntil} is null or ${lt(loginNameFailures.lockedUntil, now)})`,
    )
    .returning({ username: loginNameFailures.username });
}
