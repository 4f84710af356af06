// The daily account cap, enforced across batches. Its state lives in the long-lived account workflow (captcha-account):
// batches lease spend from it in chunks (one update per chunk, none per submit) and spend only what they leased.
// Plain JSON state and pure functions: the account workflow carries it through continue-as-new.
//
// The overspend bound: leases never add up to more than the cap in a UTC day. A batch starts a child only when its
// unspent lease covers one submit at the child's price (spent + reserved ≤ leased), so what passes the cap is what
// children already in flight pay beyond the one submit reserved for them — resubmits after an unsolvable answer or a
// possible duplicate: spent ≤ cap + Σ over running batches of window × maxResubmits × price. A batch's next lease asks
// for that excess too, so the account's figure catches up with what was really spent. A batch's unspent lease (less
// than one submit when the cap stops it; at most a chunk when it ends) is not given back: the cap errs on the safe side.
import { formatUsd } from './prices';

export interface DailyCapState {
  /** the UTC day ("2026-11-30") the lease total counts */
  day: string;
  /** micro-USD leased to batches this day */
  leasedMicros: number;
  /** set by an operator (`setDailyCap`); absent: the cap each lease brings (CAPTCHA_DAILY_CAP_USD of the client) */
  capMicros?: number;
  /** when the cap was reached this day (absent: not reached) */
  reachedAt?: string;
  /** batches refused a lease this day: told when the cap is raised (bounded) */
  waiters: string[];
  /** recent leases by request id: a repeated request (a retried activity) gets the same answer (bounded) */
  recent: { requestId: string; grantedMicros: number }[];
}

export interface LeaseRequest {
  /** idempotency key: `<batch id>/cap-<n>` */
  requestId: string;
  /** the workflow to tell when the cap is raised */
  holder: string;
  micros: number;
  /** the cap the batch was started with (CAPTCHA_DAILY_CAP_USD) */
  capMicros: number;
}

export interface LeaseAnswer {
  grantedMicros: number;
  capMicros: number;
  leasedMicros: number;
  day: string;
  /** the next 00:00 UTC */
  resetsAt: string;
  /** when less than asked was granted: why, in one sentence */
  message?: string;
}

export const CAP_WAITERS_KEPT = 200;
export const CAP_LEASES_KEPT = 500;

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function nextUtcMidnight(ms: number): string {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)).toISOString();
}

export function newDailyCap(nowMs: number): DailyCapState {
  return { day: utcDay(nowMs), leasedMicros: 0, waiters: [], recent: [] };
}

/** A new UTC day starts from nothing leased (the operator's cap stays). */
export function rollOver(state: DailyCapState, nowMs: number): void {
  const day = utcDay(nowMs);
  if (day === state.day) return;
  state.day = day;
  state.leasedMicros = 0;
  state.waiters = [];
  delete state.reachedAt;
}

export function capReachedMessage(capMicros: number, reachedAt: string): string {
  return `daily cap of ${formatUsd(capMicros)} reached at ${reachedAt}; resets at 00:00 UTC`;
}

/** Grants what fits under the cap (possibly less than asked, possibly nothing). */
export function grantLease(state: DailyCapState, req: LeaseRequest, nowMs: number): LeaseAnswer {
  rollOver(state, nowMs);
  const capMicros = state.capMicros ?? req.capMicros;
  const answer = (granted: number): LeaseAnswer => ({
    grantedMicros: granted,
    capMicros,
    leasedMicros: state.leasedMicros,
    day: state.day,
    resetsAt: nextUtcMidnight(nowMs),
    ...(granted < req.micros && { message: capReachedMessage(capMicros, state.reachedAt ?? new Date(nowMs).toISOString()) }),
  });
  const earlier = state.recent.find((r) => r.requestId === req.requestId);
  if (earlier) return answer(earlier.grantedMicros);
  const granted = Math.max(0, Math.min(req.micros, capMicros - state.leasedMicros));
  state.leasedMicros += granted;
  state.recent.push({ requestId: req.requestId, grantedMicros: granted });
  if (state.recent.length > CAP_LEASES_KEPT) state.recent.splice(0, state.recent.length - CAP_LEASES_KEPT);
  if (granted < req.micros) {
    state.reachedAt ??= new Date(nowMs).toISOString();
    if (!state.waiters.includes(req.holder)) state.waiters.push(req.holder);
    if (state.waiters.length > CAP_WAITERS_KEPT) state.waiters.splice(0, state.waiters.length - CAP_WAITERS_KEPT);
  }
  return answer(granted);
}

/** An operator's new cap: returns the batches to tell (they were refused and may fit now). */
export function setCap(state: DailyCapState, capMicros: number, nowMs: number): string[] {
  rollOver(state, nowMs);
  state.capMicros = capMicros;
  if (state.leasedMicros < capMicros) delete state.reachedAt;
  const waiters = state.waiters;
  state.waiters = [];
  return waiters;
}
