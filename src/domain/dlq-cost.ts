// What a DLQ retry order would cost: one submit per entry at its type's price (a lower bound: a retry may resubmit
// after an unsolvable answer), in all and by failure class. Pure: the DLQ's validator and its dry runs use it.
import { formatUsd } from './prices';
import type { CaptchaType, FailureClass } from './types';

export interface RetryCost {
  totalMicros: number;
  byClass: Record<string, number>;
  /** set when permanent-class entries are in it: retrying them is money thrown away */
  warning?: string;
}

export const PERMANENT_WARNING = 'retrying permanent-class entries is money thrown away: the provider refuses them the same way again';

export function priceOfType(prices: Partial<Record<CaptchaType, number>>, type: string): number {
  const p = prices[type as CaptchaType];
  return typeof p === 'number' && Number.isSafeInteger(p) && p >= 0 ? p : 0;
}

export function emptyRetryCost(): RetryCost {
  return { totalMicros: 0, byClass: {} };
}

/** Counts one entry in. */
export function addEntryCost(cost: RetryCost, failureClass: FailureClass, type: string, prices: Partial<Record<CaptchaType, number>>): void {
  const p = priceOfType(prices, type);
  cost.totalMicros += p;
  cost.byClass[failureClass] = (cost.byClass[failureClass] ?? 0) + p;
  if (failureClass === 'permanent') cost.warning = PERMANENT_WARNING;
}

/** Adds another workflow's cost (a shard's) into `into`. */
export function mergeRetryCost(into: RetryCost, from: RetryCost | undefined): void {
  if (!from) return;
  into.totalMicros += from.totalMicros;
  for (const [c, v] of Object.entries(from.byClass)) into.byClass[c] = (into.byClass[c] ?? 0) + v;
  if (from.warning) into.warning = from.warning;
}

/** The validator's sentence for an order over its budget. */
export function overBudgetMessage(matched: number, cost: RetryCost, budgetMicros: number, upperBound: boolean): string {
  const classes = Object.entries(cost.byClass)
    .map(([c, v]) => `${c} ${formatUsd(v)}`)
    .join(', ');
  return (
    `retry order refused: retrying ${matched} entries would cost ${upperBound ? 'up to ' : ''}${formatUsd(cost.totalMicros)} ` +
    `(${classes || 'nothing'}), over its budget of ${formatUsd(budgetMicros)}`
  );
}

/**
 * What a budgeted drain run (`fitBudget`) spent its budget on: each retried entry reserves its worst case, one submit
 * plus every resubmit the solve policy allows, so that the retries cannot pass the budget even when every one of them
 * comes back unsolvable. The entries that did not fit stay dead for a later run.
 */
export interface BudgetUse {
  budgetMicros: number;
  /** paid submits reserved per entry: 1 + maxResubmits */
  submitsPerEntry: number;
  /** reserved by the entries retried (worst case) */
  reservedMicros: number;
  /** entries left for a later run: they did not fit */
  left: number;
  /** what the left entries would cost at one submit each (the figure dry runs show) */
  leftCostMicros: number;
}

/**
 * Cuts a list of entries' one-submit prices, oldest first, to the budget: the longest prefix whose worst case
 * (price × submitsPerEntry each) fits. It stops at the first entry that does not fit, so a dear old entry is not
 * passed over run after run by cheaper younger ones.
 */
export function cutToBudget(prices: readonly number[], budgetMicros: number, submitsPerEntry: number): BudgetUse & { take: number } {
  let reserved = 0;
  let take = 0;
  while (take < prices.length && reserved + prices[take]! * submitsPerEntry <= budgetMicros) reserved += prices[take++]! * submitsPerEntry;
  let leftCost = 0;
  for (let i = take; i < prices.length; i++) leftCost += prices[i]!;
  return { take, budgetMicros, submitsPerEntry, reservedMicros: reserved, left: prices.length - take, leftCostMicros: leftCost };
}

/** Adds a shard's budget use into the front's (the budget stays the front's). */
export function mergeBudgetUse(into: BudgetUse, from: BudgetUse | undefined): void {
  if (!from) return;
  into.reservedMicros += from.reservedMicros;
  into.left += from.left;
  into.leftCostMicros += from.leftCostMicros;
}

/** One line for a run's result and audit: "retried 4 within $0.036 of the $0.036 budget; 6 left for a later run ($0.018)". */
export function describeBudgetUse(retried: number, use: BudgetUse): string {
  return (
    `retried ${retried} entr${retried === 1 ? 'y' : 'ies'} reserving ${formatUsd(use.reservedMicros)} of the ${formatUsd(use.budgetMicros)} budget ` +
    `(${use.submitsPerEntry} paid submit${use.submitsPerEntry === 1 ? '' : 's'} each at worst)` +
    (use.left > 0 ? `; ${use.left} left for a later run (${formatUsd(use.leftCostMicros)} at one submit each)` : '')
  );
}
