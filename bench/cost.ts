// What a measurement spent: the simulator's ledger (paid submits, charged by src/domain/prices.ts) in USD, per solve and
// wasted (paid submits that brought no token). Sections call `costFigures` with their simulator's stats; a simulator in
// its own process answers GET /admin/stats (`remoteLedger`).
import { DEFAULT_PRICES, MICROS_PER_USD, formatUsd, submitCostMicros } from '../src/domain/prices';
import type { CaptchaType } from '../src/domain/types';
import { figure, type Figure } from './report';

/** The ledger fields a cost needs (SimulatorStats has them). */
export interface Ledger {
  paidSubmits: number;
  spentMicros: number;
}

/** Where the ledger's own flavour sells no submits (captchaai: thread plans), the submits are priced at this one's rate. */
export const REFERENCE_PROVIDER = '2captcha';

export interface Cost {
  /** micro-USD spent in all, per solve, and on paid submits without a token */
  spentMicros: number;
  perSolveMicros: number;
  wastedMicros: number;
  paidSubmits: number;
  solved: number;
  /** how the submits were priced */
  pricedAs: string;
}

/**
 * The cost of `solved` tokens bought with the ledger's paid submits. A ledger of a flavour whose price for `type` is 0
 * (the bench's default simulator, captchaai) is priced at REFERENCE_PROVIDER's rate instead, and says so.
 */
export function costOf(ledger: Ledger, solved: number, type: CaptchaType, flavour: string): Cost {
  const own = submitCostMicros(DEFAULT_PRICES, flavour, type);
  const rate = own > 0 ? own : submitCostMicros(DEFAULT_PRICES, REFERENCE_PROVIDER, type);
  const spentMicros = own > 0 ? ledger.spentMicros : ledger.paidSubmits * rate;
  const wasted = Math.max(0, ledger.paidSubmits - solved);
  return {
    spentMicros,
    perSolveMicros: solved > 0 ? spentMicros / solved : Number.NaN,
    wastedMicros: ledger.paidSubmits > 0 ? (spentMicros * wasted) / ledger.paidSubmits : 0,
    paidSubmits: ledger.paidSubmits,
    solved,
    pricedAs: own > 0 ? `the simulator's ledger (${flavour} prices)` : `${ledger.paidSubmits} paid submits at ${REFERENCE_PROVIDER}'s ${type} rate, ${formatUsd(rate)} each (${flavour} sells thread plans: $0 a submit)`,
  };
}

/** "spent $X, $Y per solve" as two figures of `section`, the waste and the pricing in the note. */
export function costFigures(section: string, what: string, cost: Cost): Figure[] {
  const note = `${cost.paidSubmits} paid submits for ${cost.solved} solves; wasted on failures ${formatUsd(cost.wastedMicros)} (${Math.max(0, cost.paidSubmits - cost.solved)} paid submits without a token); priced as ${cost.pricedAs}`;
  return [
    figure(section, `spent, ${what}`, usd(cost.spentMicros), 'USD', undefined, note),
    figure(section, `spent per solve, ${what}`, usd(cost.perSolveMicros), 'USD'),
  ];
}

/** "spent $X, $Y per solve" for a headline or a log line. */
export function costSentence(cost: Cost): string {
  const perSolve = Number.isFinite(cost.perSolveMicros) ? `${formatUsd(cost.perSolveMicros)} per solve` : 'nothing solved';
  return `spent ${formatUsd(cost.spentMicros)}, ${perSolve}, ${formatUsd(cost.wastedMicros)} wasted on failures`;
}

/** The ledger of a simulator in its own process (bench/stack.ts spawnSimulator). */
export async function remoteLedger(url: string): Promise<Ledger> {
  const res = await fetch(`${url}/admin/stats`);
  if (!res.ok) throw new Error(`simulator stats: HTTP ${res.status}`);
  const s = (await res.json()) as Partial<Ledger>;
  return { paidSubmits: s.paidSubmits ?? 0, spentMicros: s.spentMicros ?? 0 };
}

function usd(micros: number): number | null {
  return Number.isFinite(micros) ? Math.round(micros) / MICROS_PER_USD : null;
}
