// When to poll a task first: at the median solve time the worker has observed for its provider and captcha type,
// starting from the providers' advice (FIRST_POLL_DELAY_FACTORS in src/domain/policies.ts). A poll only tells
// whether a task was ready by then, not when it became ready, so the median is tracked from those answers alone: a
// stochastic-approximation quantile estimate (Robbins–Monro) in log space, each first poll moving it a step — down
// when the task was ready, up when it was not — until half the first polls find their task ready. The first steps
// are large and shrink with the observations (gain / √n, never below the tracking gain), so a handful of answers
// move a far-off advice most of the way.

export interface SolveTimeOptions {
  /** the share of tasks a first poll should find ready (default 0.5: the median) */
  quantile?: number;
  /** log-space step of one observation once settled (default 0.1: ±5 % at the median) */
  gain?: number;
  /** the first observation's step; the n-th is initialGain / √n, never below `gain` (default 0.6) */
  initialGain?: number;
  /** the estimate stays within [advised / spread, advised × spread] (default 4) */
  spread?: number;
  /** a ready answer this late after the planned first poll (as a share of it) still counts as ready by then (default 0.25) */
  lateness?: number;
}

/** providers × captcha types stay far below this; keys are bounded anyway */
const MAX_KEYS = 256;

export class SolveTimeEstimator {
  private readonly quantile: number;
  private readonly gain: number;
  private readonly initialGain: number;
  private readonly spread: number;
  private readonly lateness: number;
  /** per `provider type`: the estimate in ms and how many observations moved it */
  private readonly estimates = new Map<string, { ms: number; observations: number }>();

  constructor(options: SolveTimeOptions = {}) {
    this.quantile = clamp(options.quantile ?? 0.5, 0.05, 0.95);
    this.gain = clamp(options.gain ?? 0.1, 0.001, 1);
    this.initialGain = clamp(options.initialGain ?? 0.6, this.gain, 2);
    this.spread = Math.max(1, options.spread ?? 4);
    this.lateness = Math.max(0, options.lateness ?? 0.25);
  }

  /** The wait before the first poll of a task: the estimate, or `advisedMs` before any observation. */
  firstDelayMs(provider: string, type: string, advisedMs: number): number {
    const estimate = this.estimates.get(key(provider, type));
    return Math.round(this.bounded(estimate?.ms ?? advisedMs, advisedMs));
  }

  /**
   * What a task's first poll found, `elapsedMs` after its submit, when it was planned `plannedMs` after it. Only
   * answers that say something about the planned time count: ready no later than planned (give or take the
   * lateness), or not ready at or after it. True when the answer counted (a task's later answers then add nothing).
   */
  observe(provider: string, type: string, advisedMs: number, plannedMs: number, elapsedMs: number, ready: boolean): boolean {
    if (!(plannedMs > 0) || !Number.isFinite(elapsedMs)) return false;
    const readyByPlan = ready && elapsedMs <= plannedMs * (1 + this.lateness);
    const notReadyByPlan = !ready && elapsedMs >= plannedMs;
    if (!readyByPlan && !notReadyByPlan) return ready;
    const k = key(provider, type);
    const current = this.estimates.get(k) ?? { ms: advisedMs, observations: 0 };
    // P(ready by F) = q is the fixed point: a ready answer moves F down by gain·(1−q), a not-ready one up by gain·q
    const gain = Math.max(this.gain, this.initialGain / Math.sqrt(current.observations + 1));
    const step = readyByPlan ? -gain * (1 - this.quantile) : gain * this.quantile;
    const ms = this.bounded(current.ms * Math.exp(step), advisedMs);
    if (!this.estimates.has(k) && this.estimates.size >= MAX_KEYS) return true;
    this.estimates.set(k, { ms, observations: current.observations + 1 });
    return true;
  }

  /** The estimates so far, per `provider type` (for a test or a status page). */
  snapshot(): Record<string, { ms: number; observations: number }> {
    return Object.fromEntries([...this.estimates].map(([k, v]) => [k, { ms: Math.round(v.ms), observations: v.observations }]));
  }

  private bounded(ms: number, advisedMs: number): number {
    return clamp(ms, advisedMs / this.spread, advisedMs * this.spread);
  }
}

/**
 * When a task's first poll is due, `submittedAt` + the planned delay, never so late that the deadline leaves no room
 * for another poll after it.
 */
export function firstPollDelayMs(plannedMs: number, poll: { intervalMs: number; deadlineMs: number }): number {
  return Math.max(0, Math.min(plannedMs, poll.deadlineMs - poll.intervalMs));
}

function key(provider: string, type: string): string {
  return `${provider} ${type}`;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
