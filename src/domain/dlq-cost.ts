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
