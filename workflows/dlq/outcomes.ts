// What became of a retry order's entries: recovered, failed again, back without a verdict, still in flight. Each DLQ
// workflow counts its own retries into the order's audit record (the retry carries the order's request id); a shard
// sends the tallies of its latest retry orders in its snapshot, and the front adds what changed since the shard's
// previous snapshot to its own record of the order — so the front's `audit` answers for all shards in one query, as
// exact as `stats` (a shard's part as of its last snapshot). Pure.
import type { DlqAuditRecord, DlqOrderOutcomes, DlqOrderTally } from '../messages';
import { TEXT_LIMIT } from './limits';

export type OutcomeKind = 'recovered' | 'failed' | 'cancelled';

/**
 * Retry orders a shard reports in a snapshot: its latest ones (by when they were given, so that an order leaves the
 * window once and for all: the front's figure for it then stays as last reported). ~60 characters each.
 */
export const ORDER_TALLIES_IN_SNAPSHOT = 20;

export function emptyOutcomes(): DlqOrderOutcomes {
  return { recovered: 0, failed: 0, cancelled: 0 };
}

/** The retry order's audit record that tracks outcomes (newest first), or undefined (an order before it, or dropped). */
export function trackedOrder(audit: DlqAuditRecord[], requestId: string): DlqAuditRecord | undefined {
  for (let i = audit.length - 1; i >= 0; i--) {
    const r = audit[i]!;
    if (r.requestId === requestId && r.operation === 'retry') return r.outcomes ? r : undefined;
  }
  return undefined;
}

/** Counts one retry's outcome into its order's record; false when no record tracks that order. */
export function countOutcome(audit: DlqAuditRecord[], requestId: string, kind: OutcomeKind, at: string): boolean {
  const r = trackedOrder(audit, requestId);
  if (!r) return false;
  r.outcomes![kind]++;
  r.outcomes!.at = at;
  return true;
}

/** A shard's tallies for its snapshot: its latest retry orders that matched something here. */
export function orderTallies(audit: DlqAuditRecord[], max = ORDER_TALLIES_IN_SNAPSHOT): DlqOrderTally[] {
  const out: DlqOrderTally[] = [];
  for (let i = audit.length - 1; i >= 0 && out.length < max; i--) {
    const r = audit[i]!;
    if (r.operation !== 'retry' || !r.outcomes || r.matched === 0 || r.requestId.length > TEXT_LIMIT) continue;
    out.push([r.requestId, r.outcomes.recovered, r.outcomes.failed, r.outcomes.cancelled]);
  }
  return out;
}

/**
 * The front adds a shard's new tallies, less what its previous snapshot said (`sign` −1 takes a forgotten snapshot's
 * tallies back out: a reset shard's next snapshot counts in full). Tallies only grow, so a delta is never negative;
 * an order no record tracks is passed over.
 */
export function addShardTallies(audit: DlqAuditRecord[], next: DlqOrderTally[] | undefined, previous: DlqOrderTally[] | undefined, at: string, sign: 1 | -1 = 1): void {
  const before = new Map((previous ?? []).map((t) => [t[0], t] as const));
  for (const t of next ?? []) {
    const p = before.get(t[0]);
    const d = [t[1] - (p?.[1] ?? 0), t[2] - (p?.[2] ?? 0), t[3] - (p?.[3] ?? 0)].map((x) => sign * Math.max(0, x));
    if (d.every((x) => x === 0)) continue;
    const r = trackedOrder(audit, t[0]);
    if (!r) continue;
    const o = r.outcomes!;
    o.recovered = Math.max(0, o.recovered + d[0]!);
    o.failed = Math.max(0, o.failed + d[1]!);
    o.cancelled = Math.max(0, o.cancelled + d[2]!);
    o.at = at;
  }
}

/** The record as `audit` answers it: with `inFlight` when its outcomes are tracked. */
export function withProgress(r: DlqAuditRecord): DlqAuditRecord {
  if (!r.outcomes) return r;
  const { recovered, failed, cancelled } = r.outcomes;
  return { ...r, outcomes: { ...r.outcomes }, inFlight: Math.max(0, r.matched - recovered - failed - cancelled) };
}

/** A snapshot's `orders`, rebuilt, or the sentence that says what is wrong. */
export function checkOrderTallies(raw: unknown, max: number): { ok: true; tallies: DlqOrderTally[] } | { ok: false; error: string } {
  if (!Array.isArray(raw) || raw.length > max) return { ok: false, error: `orders must be a list of at most ${max} order tallies` };
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const tallies: DlqOrderTally[] = [];
  for (const t of raw as unknown[]) {
    if (!Array.isArray(t) || t.length !== 4 || typeof t[0] !== 'string' || !t[0] || t[0].length > TEXT_LIMIT || !count(t[1]) || !count(t[2]) || !count(t[3])) {
      return { ok: false, error: 'orders must hold [requestId, recovered, failed, cancelled] with non-negative integer counts' };
    }
    tallies.push([t[0], t[1], t[2], t[3]]);
  }
  return { ok: true, tallies };
}
