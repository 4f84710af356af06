// Which entries an order or a `list` request names: the filter compiled once, matched entry by entry, under a
// watermark. Pure.
import type { DlqEntry, DlqFilter } from '../messages';
import { sitekeyOf } from './counts';

/** The entries an order may touch: only those that were there when it was given. */
export interface Watermark {
  /** entries with a smaller seq (this workflow's own orders) */
  seq?: number;
  /** entries received at or before (orders forwarded by the front) */
  at?: string;
}

interface Matcher {
  codes?: Set<string>;
  classes?: Set<string>;
  sitekeys?: Set<string>;
  batchIds?: Set<string>;
  statuses?: Set<string>;
  since?: string;
  until?: string;
}

function compileFilter(f: DlqFilter): Matcher {
  return {
    ...(f.errorCodes && { codes: new Set(f.errorCodes) }),
    ...(f.classes && { classes: new Set<string>(f.classes) }),
    ...(f.sitekeys && { sitekeys: new Set(f.sitekeys) }),
    ...(f.batchIds && { batchIds: new Set(f.batchIds) }),
    ...(f.statuses && { statuses: new Set<string>(f.statuses) }),
    ...(f.since !== undefined && { since: f.since }),
    ...(f.until !== undefined && { until: f.until }),
  };
}

function matches(e: DlqEntry, m: Matcher): boolean {
  if (m.codes && !m.codes.has(e.code)) return false;
  if (m.classes && !m.classes.has(e.failureClass)) return false;
  if (m.sitekeys && !m.sitekeys.has(sitekeyOf(e.task))) return false;
  if (m.batchIds && (e.batchId === undefined || !m.batchIds.has(e.batchId))) return false;
  if (m.statuses && !m.statuses.has(e.status)) return false;
  if (m.since !== undefined && e.lastFailedAt < m.since) return false;
  if (m.until !== undefined && e.lastFailedAt >= m.until) return false;
  return true;
}

/** Entries matching the filter and under the watermark, each once (`ids` in the filter's order). */
export function selectEntries(entries: Record<string, DlqEntry>, filter: DlqFilter, watermark: Watermark): DlqEntry[] {
  const m = compileFilter(filter);
  const candidates = filter.ids
    ? filter.ids.map((id) => (Object.hasOwn(entries, id) ? entries[id] : undefined)).filter((e): e is DlqEntry => !!e)
    : Object.values(entries);
  const seen = new Set<string>();
  return candidates.filter((e) => {
    if (seen.has(e.id)) return false;
    seen.add(e.id);
    if (watermark.seq !== undefined && e.seq >= watermark.seq) return false;
    if (watermark.at !== undefined && e.receivedAt > watermark.at) return false;
    return matches(e, m);
  });
}

/** Index of the first entry with seq > after (entries sorted by seq). */
export function firstAfter(entries: DlqEntry[], after: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.seq <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
