// A batch's money: what its tasks spent, what failed tasks wasted, and the budget that stops new submits before they
// would pass it. Plain JSON state and pure functions: the batch workflow carries it through continue-as-new.
//
// Each child started reserves one submit at its type's price; its outcome replaces the reservation with what it really
// spent. A child starts only when spent + reserved + its price fits the budget, so without resubmits the batch never
// passes its budget. The overspend bound: children already in flight may resubmit after an unsolvable answer (each up to
// `maxResubmits` more paid submits) or pay a possible duplicate; at most one in-flight window of them, so
// spent ≤ budget + window × maxResubmits × price.
import { formatUsd } from './prices';
import type { CaptchaType } from './types';

export interface BatchMoney {
  /** micro-USD spent by the tasks that reported (solved or failed) */
  spentMicros: number;
  /** of it, by tasks that failed */
  wastedMicros: number;
  /** absent: no budget */
  budgetMicros?: number;
  /** one submit's price per child in flight, by task key (bounded by the window) */
  reserved: Record<string, number>;
}

/** The figures a batch shows (progress, summary). */
export interface MoneyFigures {
  spentMicros: number;
  /** spent ÷ solved, rounded (absent: nothing solved) */
  perSolveMicros?: number;
  wastedMicros: number;
  budgetMicros?: number;
  /** spent + reserved for the children in flight */
  committedMicros: number;
  /** why no more submits start (the batch holds its tasks until `resume --budget`) */
  paused?: { reason: 'budget'; message: string; nextSubmitMicros: number };
}

export function newBatchMoney(budgetMicros?: number): BatchMoney {
  return { spentMicros: 0, wastedMicros: 0, reserved: {}, ...(budgetMicros !== undefined && { budgetMicros }) };
}

export function priceOf(prices: Partial<Record<CaptchaType, number>> | undefined, type: CaptchaType): number {
  const p = prices?.[type];
  return typeof p === 'number' && Number.isSafeInteger(p) && p >= 0 ? p : 0;
}

export function committedMicros(money: BatchMoney): number {
  return Object.values(money.reserved).reduce((sum, r) => sum + r, money.spentMicros);
}

/** Would one more submit at `price` pass the budget? */
export function wouldPassBudget(money: BatchMoney, price: number): boolean {
  return money.budgetMicros !== undefined && committedMicros(money) + price > money.budgetMicros;
}

export function reserve(money: BatchMoney, taskKey: string, price: number): void {
  money.reserved[taskKey] = price;
}

/** A task's outcome: its reservation gives way to what it spent (`undefined`: not known, e.g. cancelled). */
export function settle(money: BatchMoney, taskKey: string, spent: number | undefined, failed: boolean): void {
  delete money.reserved[taskKey];
  const s = typeof spent === 'number' && Number.isSafeInteger(spent) && spent > 0 ? spent : 0;
  money.spentMicros += s;
  if (failed) money.wastedMicros += s;
}

export function moneyFigures(money: BatchMoney, solved: number, next?: { price: number }): MoneyFigures {
  const committed = committedMicros(money);
  const paused =
    next && money.budgetMicros !== undefined && committed + next.price > money.budgetMicros
      ? {
          reason: 'budget' as const,
          nextSubmitMicros: next.price,
          message:
            `paused: the next submit (${formatUsd(next.price)}) would pass the budget of ${formatUsd(money.budgetMicros)} ` +
            `(spent ${formatUsd(money.spentMicros)}, ${formatUsd(committed - money.spentMicros)} reserved in flight); ` +
            'resume with a higher --budget to continue',
        }
      : undefined;
  return {
    spentMicros: money.spentMicros,
    ...(solved > 0 && { perSolveMicros: Math.round(money.spentMicros / solved) }),
    wastedMicros: money.wastedMicros,
    ...(money.budgetMicros !== undefined && { budgetMicros: money.budgetMicros }),
    committedMicros: committed,
    ...(paused && { paused }),
  };
}

/** A budget as a workflow receives it: a whole, non-negative number of micro-USD; else a sentence. */
export function budgetProblem(budgetMicros: unknown): string | undefined {
  if (budgetMicros === undefined) return undefined;
  return typeof budgetMicros === 'number' && Number.isSafeInteger(budgetMicros) && budgetMicros >= 0
    ? undefined
    : `budgetMicros must be a whole number of micro-USD, not negative (got ${JSON.stringify(budgetMicros)})`;
}
