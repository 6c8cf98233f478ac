// E-mail notification recipients (issue 13 item 7): per account and group of event types, users of
// the account (their e-mail is looked up when a mail is sent) and further addresses. A user must be
// an active user of the same account when set; lists are de-duplicated (addresses case-insensitively).
import { eq, inArray } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { notificationRecipients } from '../../db/schema/index.js';
import { activeUsersOf } from '../accounts/api.js';
import { EVENT_GROUPS, type EventGroup } from '../events/api.js';
import { RecipientNotAUser } from './errors.js';

export interface Recipients {
  group: EventGroup;
  userIds: string[];
  addresses: string[];
  updatedAt: Date | null;
}

export interface RecipientServiceDeps {
  db: Db;
}

/** The first of each address, compared case-insensitively, without surrounding space. */
export const uniqueAddresses = (addresses: readonly string[]): string[] => {
  const seen = new Set<string>();
  return addresses
    .map((a) => a.trim())
    .filter((a) => {
      const key = a.toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
};

/** The recipients rows of some accounts (the fan-out reads them for a batch of events). */
export async function recipientsOf(
  tx: Tx,
  accountIds: readonly string[],
): Promise<{ accountId: string; group: string; userIds: string[]; addresses: string[] }[]> {
  if (accountIds.length === 0) return [];
  return tx
    .select({
      accountId: notificationRecipients.accountId,
      group: notificationRecipients.group,
      userIds: notificationRecipients.userIds,
      addresses: notificationRecipients.addresses,
    })
    .from(notificationRecipients)
    .where(inArray(notificationRecipients.accountId, [...accountIds]));
}

export function createRecipientService({ db }: RecipientServiceDeps) {
  return {
    /** Every group of the catalogue, with its recipients (none when never set). */
    async list(accountId: string): Promise<Recipients[]> {
      const rows = await db
        .select()
        .from(notificationRecipients)
        .where(eq(notificationRecipients.accountId, accountId));
      const byGroup = new Map(rows.map((r) => [r.group, r]));
      return EVENT_GROUPS.map((group) => {
        const r = byGroup.get(group);
        return { group, userIds: r?.userIds ?? [], addresses: r?.addresses ?? [], updatedAt: r?.updatedAt ?? null };
      });
    },

    /** Replaces one group's recipients; every user must be an active user of the account. */
    async set(
      accountId: string,
      group: EventGroup,
      input: { userIds: readonly string[]; addresses: readonly string[] },
    ): Promise<Recipients> {
      const userIds = [...new Set(input.userIds.map((id) => id.toLowerCase()))];
      const addresses = uniqueAddresses(input.addresses);
      return db.transaction(async (tx) => {
        const known = new Set((await activeUsersOf(tx, accountId, userIds)).map((u) => u.id));
        const errors = input.userIds.flatMap((id, i) =>
          known.has(id.toLowerCase())
            ? []
            : [
                {
                  pointer: `/body/user_ids/${i}`,
                  code: 'recipient_not_a_user',
                  message: `${id} is not an active user of your account`,
                },
              ],
        );
        if (errors.length > 0) {
          throw new RecipientNotAUser(errors.map((e) => e.message).join('; '), { errors });
        }
        const now = new Date();
        const [row] = await tx
          .insert(notificationRecipients)
          .values({ accountId, group, userIds, addresses, updatedAt: now })
          .onConflictDoUpdate({
            target: [notificationRecipients.accountId, notificationRecipients.group],
            set: { userIds, addresses, updatedAt: now },
          })
          .returning();
        return { group, userIds: row!.userIds, addresses: row!.addresses, updatedAt: row!.updatedAt };
      });
    },
  };
}

export type RecipientService = ReturnType<typeof createRecipientService>;
