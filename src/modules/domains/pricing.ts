// Domain prices (R-DOM-5): what the TLD catalogue charges for registering, renewing, transferring
// and restoring a name, in the account's currency (a catalogue entry holds the prices of one
// currency), and the ceilings a caller may set (max_price, a quote). Checks, registrations,
// renewals, restores, transfers and autorenewals all price through here.
import { ValidationFailed } from '../../errors.js';
import type { TldEntry, TldOperation } from './tld-service.js';

// The ceilings (max_price, a quote) are the ledger's, shared with the other areas that sell.
export { assertMaxPrice, honourQuote, PriceChanged } from '../billing/api.js';

/** The label a TLD's reserved and premium lists name: `example` of `example.com`. */
export const labelOf = (name: string): string => name.slice(0, name.indexOf('.'));

export const isPremium = (entry: TldEntry, label: string): boolean => entry.premium.some((p) => p.label === label);

/** Price per year of registering `label`: a premium name's own, else the TLD's; undefined when not sold in this currency. */
export function registerPrice(entry: TldEntry, label: string): number | undefined {
  const premium = entry.premium.find((p) => p.label === label);
  return premium ? premium.registerAmount : entry.prices.find((p) => p.operation === 'register')?.amount;
}

/** Price per year (renew, transfer) or per event (restore) in the caller's currency; premium names keep their renewal price. */
export function operationPrice(
  entry: TldEntry,
  label: string,
  op: Exclude<TldOperation, 'register'>,
  currency: string,
): number {
  if (op !== 'restore') {
    const premium = entry.premium.find((p) => p.label === label);
    if (premium) return premium.renewAmount;
  }
  const price = entry.prices.find((p) => p.operation === op)?.amount;
  if (price === undefined)
    throw new ValidationFailed(`.${entry.rules.tld} has no ${op} price in ${currency}`, {
      errors: [
        { pointer: '', code: 'not_sold_in_currency', message: `.${entry.rules.tld} is not sold in ${currency}` },
      ],
    });
  return price;
}
