// The DLQ's counts: kept up to date entry by entry (`addToAgg` on every change, so no query or signal costs a pass over
// the entries), summarised for a snapshot or `stats`, and merged across shards. Pure.
import { type DlqEntry, type DlqRunState, type DlqShardSnapshot } from '../messages';
import { DLQ_ENTRY_STATUSES } from '../../src/domain/names';
import type { CaptchaTask } from '../../src/domain/types';
import { SNAPSHOT_KEYS_MAX } from './limits';

/** What a workflow counts of its own entries (a snapshot without its identity). */
export type Counts = Omit<DlqShardSnapshot, 'workflowId' | 'shard' | 'seq' | 'asOf'>;

/** The running counts: the snapshot's tallies, kept uncapped, and what the held entries cost. */
export type Agg = Pick<DlqShardSnapshot, 'total' | 'byStatus' | 'byCode' | 'byClass' | 'bySitekey' | 'byHour' | 'byBatch'> & {
  paidSubmits: number;
  spentMicros: number;
  spentByCode: Record<string, number>;
};

export function emptyAgg(): Agg {
  return {
    total: 0,
    byStatus: { dead: 0, retrying: 0, parked: 0 },
    byCode: dict(),
    byClass: dict(),
    bySitekey: dict(),
    byHour: dict(),
    byBatch: dict(),
    paidSubmits: 0,
    spentMicros: 0,
    spentByCode: dict(),
  };
}

/** A record without a prototype: any sitekey or code is a safe key. */
export function dict(): Record<string, number> {
  return Object.create(null) as Record<string, number>;
}

function bump(record: Record<string, number>, key: string, delta: number): void {
  const v = (record[key] ?? 0) + delta;
  if (v === 0) delete record[key];
  else record[key] = v;
}

/** The sitekey an entry is counted and filtered under. */
export function sitekeyOf(task: CaptchaTask): string {
  return task.sitekey ?? (task.type === 'image' ? '(image)' : '(none)');
}

/** Counts an entry in (1) or out (−1). */
export function addToAgg(agg: Agg, e: DlqEntry, delta: 1 | -1): void {
  agg.total += delta;
  agg.byStatus[e.status] += delta;
  bump(agg.byCode, e.code, delta);
  bump(agg.byClass, e.failureClass, delta);
  bump(agg.bySitekey, sitekeyOf(e.task), delta);
  bump(agg.byHour, e.lastFailedAt.slice(11, 13), delta);
  if (e.batchId !== undefined) bump(agg.byBatch, e.batchId, delta);
  agg.paidSubmits += delta * e.paidSubmits;
  const spent = e.spentMicros ?? 0;
  if (spent > 0) {
    agg.spentMicros += delta * spent;
    bump(agg.spentByCode, e.code, delta * spent);
  }
}

/** This workflow's own counts: the aggregate, the carried counters, the latest alerts. */
export function countsOf(agg: Agg, state: DlqRunState, oldestFailedAt: string | null): Counts {
  const sitekeys = capKeys(agg.bySitekey);
  const batches = capKeys(agg.byBatch);
  const c = state.counters;
  return {
    total: agg.total,
    byStatus: { ...agg.byStatus },
    byCode: { ...agg.byCode },
    byClass: { ...agg.byClass },
    bySitekey: sitekeys.map,
    byHour: { ...agg.byHour },
    byBatch: batches.map,
    ...((sitekeys.truncated || batches.truncated) && { truncated: true }),
    oldestFailedAt,
    recovered: c.recovered,
    discarded: c.discarded,
    purged: c.purged,
    paidSubmitsOnDead: agg.paidSubmits,
    spentMicrosOnDead: agg.spentMicros,
    spentMicrosOnDeadByCode: capKeys(agg.spentByCode).map,
    retriesInFlight: Object.keys(state.inFlight).length,
    retriesQueued: state.queue.length,
    received: c.received,
    duplicateReports: c.duplicateReports,
    ...(state.alerts.length > 0 && { alerts: state.alerts.slice(-5) }),
  };
}

/** The record, or its SNAPSHOT_KEYS_MAX largest keys. */
export function capKeys(record: Record<string, number>): { map: Record<string, number>; truncated: boolean } {
  const keys = Object.keys(record);
  if (keys.length <= SNAPSHOT_KEYS_MAX) return { map: { ...record }, truncated: false };
  return { map: Object.fromEntries(topN(record, SNAPSHOT_KEYS_MAX)), truncated: true };
}

/** Adds a shard's counts into `into`. */
export function mergeCounts(into: Counts, s: Counts): void {
  into.total += s.total;
  for (const k of DLQ_ENTRY_STATUSES) into.byStatus[k] += s.byStatus?.[k] ?? 0;
  for (const [field, from] of [
    ['byCode', s.byCode],
    ['byClass', s.byClass],
    ['bySitekey', s.bySitekey],
    ['byHour', s.byHour],
    ['byBatch', s.byBatch],
  ] as const) {
    for (const [k, v] of Object.entries(from ?? {})) into[field][k] = (into[field][k] ?? 0) + v;
  }
  if (s.oldestFailedAt && (into.oldestFailedAt === null || s.oldestFailedAt < into.oldestFailedAt)) into.oldestFailedAt = s.oldestFailedAt;
  into.recovered += s.recovered ?? 0;
  into.discarded += s.discarded ?? 0;
  into.purged += s.purged ?? 0;
  into.paidSubmitsOnDead += s.paidSubmitsOnDead ?? 0;
  if (s.spentMicrosOnDead !== undefined) into.spentMicrosOnDead = (into.spentMicrosOnDead ?? 0) + s.spentMicrosOnDead;
  for (const [k, v] of Object.entries(s.spentMicrosOnDeadByCode ?? {})) {
    const byCode = (into.spentMicrosOnDeadByCode ??= dict());
    byCode[k] = (byCode[k] ?? 0) + v;
  }
  into.retriesInFlight += s.retriesInFlight ?? 0;
  into.retriesQueued += s.retriesQueued ?? 0;
  into.received += s.received ?? 0;
  into.duplicateReports += s.duplicateReports ?? 0;
  if (s.truncated) into.truncated = true;
}

/** The n largest counts, ties by key. */
export function topN(record: Record<string, number>, n: number): [string, number][] {
  return Object.entries(record)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n);
}

export function sortedRecord(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(topN(record, Infinity));
}
