// The entity's view layer: what queries answer (`stats` merged over the shards' snapshots, `list` pages across shards,
// `audit`) and the Markdown summary the Web UI shows.
import { condition, setCurrentDetails, upsertMemo } from '@temporalio/workflow';
import { DLQ_STATS_MEMO_KEY, type DlqAuditRecord, type DlqListPage, type DlqStats } from '../messages';
import { DLQ_ENTRY_STATUSES } from '../../src/domain/names';
import { nowIso, workflowNow } from './clock';
import { mergeCounts, sortedRecord, topN } from './counts';
import { invalid } from './errors';
import { firstAfter } from './filters';
import { LIST_DEFAULT, LIST_MAX } from './limits';
import { withProgress } from './outcomes';
import { PUBLISHED_TOP, publishedStats } from './published';
import { parseIntRequest, parseList } from './requests';
import { dlqShardWorkflowId } from '../../src/domain/dlq-routing';
import { DlqShards } from './shards';

export class DlqViews extends DlqShards {
  /** `stats`: this workflow's counts merged with its shards' latest snapshots; `asOf` is the oldest of them. */
  stats(raw: unknown): DlqStats {
    const parsed = parseIntRequest(raw, 'top', 1, 1_000, 10, 'stats');
    if (!parsed.ok) throw invalid(parsed.error);
    const top = parsed.value;
    const now = nowIso();
    const merged = this.counts();
    let asOf = now;
    const alerts = [...this.state.alerts];
    const shards: NonNullable<DlqStats['shards']> = [];
    for (const s of Object.values(this.state.shards)) {
      mergeCounts(merged, s);
      if (s.asOf < asOf) asOf = s.asOf;
      for (const a of s.alerts ?? []) alerts.push(a);
      shards.push({ workflowId: s.workflowId, shard: s.shard, seq: s.seq, asOf: s.asOf, total: s.total });
    }
    const byHour: Record<string, number> = {};
    for (let h = 0; h < 24; h++) {
      const key = String(h).padStart(2, '0');
      byHour[key] = merged.byHour[key] ?? 0;
    }
    return {
      total: merged.total,
      byStatus: merged.byStatus,
      byCode: sortedRecord(merged.byCode),
      byClass: sortedRecord(merged.byClass),
      bySitekey: topN(merged.bySitekey, top).map(([sitekey, count]) => ({ sitekey, count })),
      byHour,
      byBatch: sortedRecord(merged.byBatch),
      oldestFailedAt: merged.oldestFailedAt,
      oldestEntryAgeMs: merged.oldestFailedAt === null ? null : Math.max(0, Date.parse(now) - Date.parse(merged.oldestFailedAt)),
      recovered: merged.recovered,
      discarded: merged.discarded,
      purged: merged.purged,
      parked: merged.byStatus.parked,
      paidSubmitsOnDead: merged.paidSubmitsOnDead,
      ...(merged.spentMicrosOnDead !== undefined && {
        spentMicrosOnDead: merged.spentMicrosOnDead,
        spentMicrosOnDeadByCode: sortedRecord(merged.spentMicrosOnDeadByCode ?? {}),
      }),
      retriesInFlight: merged.retriesInFlight,
      retriesQueued: merged.retriesQueued,
      received: merged.received,
      duplicateReports: merged.duplicateReports,
      unknownSignals: { count: this.state.unknownSignals?.count ?? 0, lastName: this.state.unknownSignals?.lastName ?? null },
      alerts: alerts.sort((a, b) => (a.raisedAt < b.raisedAt ? -1 : 1)),
      asOf,
      ...(shards.length > 0 && { shards: shards.sort((a, b) => a.shard - b.shard) }),
    };
  }

  /** `list`: a page of this workflow's entries by seq; the last page points at the next shard. */
  list(raw: unknown): DlqListPage {
    const parsed = parseList(raw);
    if (!parsed.ok) throw invalid(parsed.error);
    const { filter, limit, cursor } = parsed;
    let after = 0;
    if (cursor) {
      if (cursor.shard !== undefined && cursor.shard !== this.shard) {
        throw invalid(`cursor "${cursor.text}" continues in workflow ${dlqShardWorkflowId(this.frontId, cursor.shard)}: query that workflow with it`);
      }
      after = cursor.seq;
    }
    const matching = this.select(filter, {}).sort((a, b) => a.seq - b.seq);
    const start = firstAfter(matching, after);
    const entries = matching.slice(start, start + limit);
    const page: DlqListPage = { entries, total: matching.length, workflowId: this.selfId, shard: this.shard };
    if (start + limit < matching.length) {
      page.nextCursor = `${this.shard}:${entries[entries.length - 1]!.seq}`;
      page.nextWorkflowId = this.selfId;
    } else if (this.shard + 1 < this.settings.shardCount) {
      page.nextCursor = `${this.shard + 1}:0`;
      page.nextWorkflowId = dlqShardWorkflowId(this.frontId, this.shard + 1);
    }
    return page;
  }

  /** `audit`: the latest orders first. */
  audit(raw: unknown): DlqAuditRecord[] {
    const parsed = parseIntRequest(raw, 'limit', 1, LIST_MAX, LIST_DEFAULT, 'audit');
    if (!parsed.ok) throw invalid(parsed.error);
    return this.state.audit.slice(-parsed.value).reverse().map(withProgress);
  }

  /**
   * The front's stats in its memo, which the server answers alone (visibility, describe(); see DlqStatsSnapshot):
   * published when they changed, at most once per statsPublishIntervalMs, and first thing in a run (so after every
   * continue-as-new; changes that land while a run stops are published by the next). Staleness: a change is published
   * within statsPublishIntervalMs of workflow time, on the workflow task that follows. Cost: one
   * WorkflowPropertiesModified event per publication (~1–3 KB), plus a timer (2 events) when a change comes sooner
   * than the interval after the last one: ≤ 3 events per interval while reports pour in, none at rest.
   */
  async statsMemoLoop(): Promise<void> {
    const interval = this.settings.statsPublishIntervalMs;
    let last = -Infinity;
    let seq = 0;
    for (;;) {
      await condition(() => this.stopping || this.statsDirty);
      if (this.stopping) return;
      const wait = last + interval - workflowNow();
      if (wait > 0) {
        await condition(() => this.stopping, Math.ceil(wait));
        if (this.stopping) return; // still dirty: the next run publishes first thing
      }
      this.statsDirty = false;
      last = workflowNow();
      const stats = this.stats({ top: PUBLISHED_TOP.sitekeys });
      upsertMemo({ [DLQ_STATS_MEMO_KEY]: publishedStats(stats, { publishedAt: nowIso(), run: this.state.run, seq: ++seq }) });
    }
  }

  /** Web UI: a small Markdown summary, rendered once per activation that changed something. */
  async detailsLoop(): Promise<void> {
    for (;;) {
      await condition(() => this.stopping || this.detailsDirty);
      if (this.detailsDirty) {
        this.detailsDirty = false;
        setCurrentDetails(this.details());
      }
      if (this.stopping) return;
    }
  }

  private details(): string {
    const c = this.counts();
    if (this.role === 'front') for (const s of Object.values(this.state.shards)) mergeCounts(c, s);
    const title =
      this.role === 'front'
        ? `**Dead-letter queue**${this.settings.shardCount > 1 ? ` (front of ${this.settings.shardCount} shards)` : ''}`
        : `**Dead-letter queue shard ${this.shard}** of [${this.frontId}]`;
    const lines = [
      title,
      '',
      // lists, not tables: the Web UI renders Markdown tables without cell padding ("dead3")
      ...DLQ_ENTRY_STATUSES.map((s) => `- ${s}: ${c.byStatus[s]}`),
      `- **total: ${c.total}**`,
      '',
    ];
    const errors = topN(c.byCode, 5);
    if (errors.length > 0) lines.push('**Top errors**', '', ...errors.map(([code, n]) => `- ${code}: ${n}`), '');
    lines.push(
      `recovered ${c.recovered} · discarded ${c.discarded} · purged ${c.purged} · retries in flight ${c.retriesInFlight} (queued ${c.retriesQueued})`,
    );
    const lastAlert = this.state.alerts[this.state.alerts.length - 1];
    if (lastAlert) lines.push('', `⚠ ${lastAlert.kind} alert: ${lastAlert.value} > ${lastAlert.threshold} (${lastAlert.raisedAt})`);
    return lines.join('\n');
  }
}
