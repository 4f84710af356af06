// The stats the front publishes in its memo (see DlqStatsSnapshot): the `stats` answer, bounded to fit a memo. Pure.
import { DLQ_STATS_MEMO_CHARS_MAX, type DlqStats, type DlqStatsSnapshot } from '../messages';
import { topN } from './counts';

/** sitekeys, codes and batches kept at first; halved until the snapshot fits DLQ_STATS_MEMO_CHARS_MAX */
export const PUBLISHED_TOP = { sitekeys: 20, codes: 50, batches: 20 };

/** `stats` as published: no per-shard list, the largest keys only, under `maxChars` JSON characters. */
export function publishedStats(
  stats: DlqStats,
  meta: { publishedAt: string; run: number; seq: number },
  maxChars = DLQ_STATS_MEMO_CHARS_MAX,
): DlqStatsSnapshot {
  const { shards, ...rest } = stats;
  const full = {
    sitekeys: stats.bySitekey.length,
    codes: Object.keys(stats.byCode).length,
    batches: Object.keys(stats.byBatch).length,
  };
  const cut = (record: Record<string, number>, n: number) => Object.fromEntries(topN(record, n));
  let top = { ...PUBLISHED_TOP };
  for (;;) {
    const truncated = full.sitekeys > top.sitekeys || full.codes > top.codes || full.batches > top.batches;
    const snapshot: DlqStatsSnapshot = {
      ...rest,
      bySitekey: stats.bySitekey.slice(0, top.sitekeys),
      byCode: cut(stats.byCode, top.codes),
      byBatch: cut(stats.byBatch, top.batches),
      alerts: stats.alerts.slice(-5),
      ...meta,
      shardsReporting: shards?.length ?? 0,
      ...(truncated && { truncated: true }),
    };
    const size = JSON.stringify(snapshot).length;
    if (size <= maxChars || (top.sitekeys === 0 && top.codes === 0 && top.batches === 0)) return snapshot;
    top = { sitekeys: Math.floor(top.sitekeys / 2), codes: Math.floor(top.codes / 2), batches: Math.floor(top.batches / 2) };
  }
}
