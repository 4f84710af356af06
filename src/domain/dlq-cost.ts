// What a DLQ retry order would cost, in all and by failure class: expected (one paid submit per entry at its type's
// price) and at worst (one submit plus every resubmit the solve policy allows: an entry whose retries all come back
// unsolvable pays them all). Budgets are checked against the worst case, so a retry within its budget cannot pass
// it. Pure: the DLQ's validator, its dry runs and the scheduled drain's budget use it.
import { formatUsd } from './prices';
import { resolveSolvePolicy } from './policies';
import type { CaptchaType, FailureClass, SolvePolicyOverrides } from './types';

export interface RetryCost {
  /** expected: one paid submit per entry */
  totalMicros: number;
  byClass: Record<string, number>;
  /** paid submits per entry at worst: 1 + maxResubmits (absent from results kept by a DLQ before worst-case pricing) */
  submitsPerEntry?: number;
  /** at worst: submitsPerEntry paid submits per entry — what a budget is checked against */
  worstMicros?: number;
  worstByClass?: Record<string, number>;
  /** set when permanent-class entries are in it: retrying them is money thrown away */
  warning?: string;
}

export const PERMANENT_WARNING = 'retrying permanent-class entries is money thrown away: the provider refuses them the same way again';

/** The most paid submits one retried entry can make under a solve policy: its submit and every resubmit. */
export function submitsPerRetry(policy: SolvePolicyOverrides | undefined): number {
  return 1 + resolveSolvePolicy(policy).maxResubmits;
}

/** The most one retried entry can pay: the one rule of every DLQ retry budget. */
export function worstCaseMicros(priceMicros: number, submitsPerEntry: number): number {
  return priceMicros * submitsPerEntry;
}

export function priceOfType(prices: Partial<Record<CaptchaType, number>>, type: string): number {
  const p = prices[type as CaptchaType];
  return typeof p === 'number' && Number.isSafeInteger(p) && p >= 0 ? p : 0;
}

export function emptyRetryCost(submitsPerEntry: number): RetryCost {
  return { totalMicros: 0, byClass: {}, submitsPerEntry, worstMicros: 0, worstByClass: {} };
}

/** Counts `count` entries of one class, each at `priceMicros` a submit, in. */
export function addCost(cost: RetryCost, failureClass: string, priceMicros: number, count = 1): void {
  const expected = priceMicros * count;
  const worst = worstCaseMicros(priceMicros, cost.submitsPerEntry ?? 1) * count;
  cost.totalMicros += expected;
  cost.byClass[failureClass] = (cost.byClass[failureClass] ?? 0) + expected;
  cost.worstMicros = (cost.worstMicros ?? 0) + worst;
  (cost.worstByClass ??= {})[failureClass] = (cost.worstByClass[failureClass] ?? 0) + worst;
  if (failureClass === 'permanent') cost.warning = PERMANENT_WARNING;
}

/** Counts one entry in. */
export function addEntryCost(cost: RetryCost, failureClass: FailureClass, type: string, prices: Partial<Record<CaptchaType, number>>): void {
  addCost(cost, failureClass, priceOfType(prices, type));
}

/**
 * Adds another workflow's cost (a shard's) into `into`. A shard's result without a worst case (an older worker's)
 * counts at `into`'s submits per entry.
 */
export function mergeRetryCost(into: RetryCost, from: RetryCost | undefined): void {
  if (!from) return;
  const k = into.submitsPerEntry ?? 1;
  into.totalMicros += from.totalMicros;
  for (const [c, v] of Object.entries(from.byClass)) into.byClass[c] = (into.byClass[c] ?? 0) + v;
  into.worstMicros = (into.worstMicros ?? 0) + (from.worstMicros ?? worstCaseMicros(from.totalMicros, k));
  const worstByClass = (into.worstByClass ??= {});
  for (const [c, v] of Object.entries(from.worstByClass ?? {})) worstByClass[c] = (worstByClass[c] ?? 0) + v;
  if (!from.worstByClass) for (const [c, v] of Object.entries(from.byClass)) worstByClass[c] = (worstByClass[c] ?? 0) + worstCaseMicros(v, k);
  if (from.warning) into.warning = from.warning;
}

/** What a budget is checked against: the worst case (an older result's one-submit figure when it has none). */
export function worstOf(cost: RetryCost): number {
  return cost.worstMicros ?? cost.totalMicros;
}

/** The validator's sentence for an order whose worst case is over its budget. */
export function overBudgetMessage(matched: number, cost: RetryCost, budgetMicros: number, upperBound: boolean): string {
  const k = cost.submitsPerEntry ?? 1;
  const classes = Object.entries(cost.worstByClass ?? cost.byClass)
    .map(([c, v]) => `${c} ${formatUsd(v)}`)
    .join(', ');
  return (
    `retry order refused: retrying ${matched} entries could cost up to ${formatUsd(worstOf(cost))} at worst ` +
    `(${k} paid submit${k === 1 ? '' : 's'} each when every retry comes back unsolvable: ${classes || 'nothing'}), ` +
    `over its budget of ${formatUsd(budgetMicros)}; ${upperBound ? 'at most ' : ''}${formatUsd(cost.totalMicros)} at one submit each`
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
  while (take < prices.length && reserved + worstCaseMicros(prices[take]!, submitsPerEntry) <= budgetMicros) reserved += worstCaseMicros(prices[take++]!, submitsPerEntry);
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
