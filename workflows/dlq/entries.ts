// The entity's first layer: who this DLQ workflow is (front or shard), its state, and its entries — every change of an
// entry goes through here so the counts stay exact — with the alerts they raise. The layers above add retries
// (./retries), orders (./orders), shards (./shards) and views (./views); ./queue names the whole.
import { condition, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { AlertActivities } from '../../activities/alerts';
import type { DlqActivities } from '../../activities/dlq';
import type { DlqAlert, DlqEntry, DlqInput, DlqRunState } from '../messages';
import type { DlqEntryStatus } from '../../src/domain/names';
import { DLQ_ALERT_ACTIVITY_OPTIONS, DLQ_FORWARD_ACTIVITY_OPTIONS, DLQ_LOOKUP_ACTIVITY_OPTIONS, DLQ_SNAPSHOT_ACTIVITY_OPTIONS } from '../../src/domain/policies';
import { earliest, nowIso, workflowNow } from './clock';
import { addToAgg, countsOf, emptyAgg, type Counts } from './counts';
import { ALERTS_KEPT, QUOTE_MAX, REMOVED_KEPT } from './limits';
import { checkReport } from './reports';
import { resolveSettings, type Settings } from './settings';
import { freshState, removedKey, revive } from './state';

export type Role = 'front' | 'shard';

export class DlqEntries {
  readonly role: Role;
  readonly selfId: string;
  readonly frontId: string;
  readonly shard: number;
  readonly state: DlqRunState;
  settings: Settings;
  readonly agg = emptyAgg();
  /** `${id}\u0000${failedAt}` of `state.removed` */
  protected readonly removedKeys = new Set<string>();
  /** signals and updates taken by this run (it continues as new after `maxMessagesPerRun`) */
  messages = 0;
  /** set when the run is about to continue as new: the loops return */
  stopping = false;
  /** the guards of issue 12, the stats memo of issue 15 and the order outcomes of issue 17, each behind its patch (see ./workflow) */
  readonly guards = { ownShards: false, bounded: false, awaitAlerts: false, statsMemo: false, orderOutcomes: false };
  /** alert deliveries not finished yet: awaited before continue-as-new */
  readonly deliveries = new Set<Promise<void>>();
  detailsDirty = true;
  /** the counts changed since the stats were last published in the memo (a run publishes first thing) */
  statsDirty = true;
  /**
   * Kept as signals land, so that no signal costs a pass over every entry or shard (conditions are checked after each
   * signal of an activation): the sum of the shards' totals, and the oldest `firstFailedAt` of this workflow's entries
   * and of the shards' snapshots — `undefined` when it must be recomputed (the oldest one left), once, on next use.
   */
  protected shardsTotal = 0;
  protected ownOldest: { at: string | null } | undefined;
  protected shardsOldest: { at: string | null } | undefined;
  protected readonly acts = {
    forward: proxyActivities<DlqActivities>({ ...DLQ_FORWARD_ACTIVITY_OPTIONS, summary: 'forward order to DLQ shards' }),
    snapshot: proxyActivities<DlqActivities>({ ...DLQ_SNAPSHOT_ACTIVITY_OPTIONS, summary: 'push counts to the DLQ front' }),
    lookup: proxyActivities<DlqActivities>({ ...DLQ_LOOKUP_ACTIVITY_OPTIONS, summary: 'look up silent retry children' }),
    alert: proxyActivities<AlertActivities>({ ...DLQ_ALERT_ACTIVITY_OPTIONS, summary: 'send a DLQ alert' }),
  };

  constructor(readonly input: DlqInput) {
    const info = workflowInfo();
    this.selfId = info.workflowId;
    const isShard = input.role === 'shard' && typeof input.front === 'string' && Number.isInteger(input.shard) && input.shard! > 0;
    if (input.role === 'shard' && !isShard) log.warn('DLQ started as a shard without front/shard: running as a front', { input: { ...input, state: undefined } });
    this.role = isShard ? 'shard' : 'front';
    this.frontId = isShard ? input.front! : this.selfId;
    this.shard = isShard ? input.shard! : 0;
    this.state = input.state ? revive(input.state) : freshState();
    this.state.run++;
    this.settings = this.resolveSettings(info.taskQueue);
    for (const e of Object.values(this.state.entries)) addToAgg(this.agg, e, 1);
    for (const [id, at] of this.state.removed) this.removedKeys.add(removedKey(id, at));
    for (const s of Object.values(this.state.shards)) this.shardsTotal += s.total;
  }

  protected resolveSettings(taskQueue: string): Settings {
    return resolveSettings(this.input, this.state.adopted, taskQueue, (name, value) => log.warn('ignored an invalid DLQ setting', { name, value }));
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Entries

  protected entry(id: string): DlqEntry | undefined {
    return Object.hasOwn(this.state.entries, id) ? this.state.entries[id] : undefined;
  }

  /** Every change of an entry goes through here, so the counts stay exact. */
  protected update(e: DlqEntry, mutate: () => void): void {
    addToAgg(this.agg, e, -1);
    mutate();
    addToAgg(this.agg, e, 1);
  }

  protected remove(e: DlqEntry): void {
    addToAgg(this.agg, e, -1);
    if (this.ownOldest?.at === e.firstFailedAt) this.ownOldest = undefined;
    delete this.state.entries[e.id];
    const removed = this.state.removed;
    removed.push([e.id, e.firstFailedAt]);
    this.removedKeys.add(removedKey(e.id, e.firstFailedAt));
    while (removed.length > REMOVED_KEPT) {
      const [id, at] = removed.shift()!;
      this.removedKeys.delete(removedKey(id, at));
    }
  }

  protected restingStatus(e: DlqEntry): DlqEntryStatus {
    return e.dlqRetries >= this.settings.retryCap ? 'parked' : 'dead';
  }

  /** A dead-letter report: a new entry, or a repeated report of one held or removed (counted, no change). */
  ingest(raw: unknown): void {
    const now = nowIso();
    const checked = checkReport(raw, now, this.guards.bounded);
    if (!checked.ok) {
      log.warn('ignored a malformed dead-letter report', { error: checked.error });
      return;
    }
    const r = checked.report;
    this.state.counters.received++;
    if (this.entry(r.entryId) || this.removedKeys.has(removedKey(r.entryId, r.failedAt))) {
      this.state.counters.duplicateReports++;
      log.info('repeated dead-letter report: no change', { entryId: r.entryId });
      this.changed();
      return;
    }
    const e: DlqEntry = {
      id: r.entryId,
      task: r.task,
      taskKey: r.taskKey,
      ...(r.batchId !== undefined && { batchId: r.batchId }),
      provider: r.provider,
      failureClass: r.failureClass,
      code: r.code,
      message: r.message,
      attempts: r.attempts,
      paidSubmits: r.paidSubmits,
      ...(r.spentMicros !== undefined && { spentMicros: r.spentMicros }),
      firstFailedAt: r.failedAt,
      lastFailedAt: r.failedAt,
      history: r.history,
      dlqRetries: 0,
      status: 'dead',
      seq: this.state.nextSeq++,
      receivedAt: now,
    };
    this.state.entries[e.id] = e;
    addToAgg(this.agg, e, 1);
    if (this.ownOldest && (this.ownOldest.at === null || e.firstFailedAt < this.ownOldest.at)) this.ownOldest.at = e.firstFailedAt;
    this.changed();
  }

  /** A signal of a name this DLQ does not know: counted and logged. */
  countUnknownSignal(name: string, known: string[]): void {
    const lastName = name.slice(0, QUOTE_MAX);
    const count = (this.state.unknownSignals?.count ?? 0) + 1;
    this.state.unknownSignals = { count, lastName };
    log.warn('ignored a signal this DLQ does not know: check its name', { name: lastName, count, known });
    this.detailsDirty = true;
    this.statsDirty = true;
  }

  protected changed(): void {
    this.detailsDirty = true;
    this.statsDirty = true;
    if (this.role === 'shard') this.state.snapshot.dirty = true;
    this.checkDepth();
  }

  /** This workflow's own counts. */
  protected counts(): Counts {
    return countsOf(this.agg, this.state, this.ownOldestFailedAt());
  }

  /** The oldest `firstFailedAt` here and in every shard's snapshot. */
  protected oldestFailedAt(): string | null {
    const own = this.ownOldestFailedAt();
    if (this.role !== 'front') return own;
    this.shardsOldest ??= { at: earliest(Object.values(this.state.shards).map((s) => s.oldestFailedAt)) };
    return earliest([own, this.shardsOldest.at]);
  }

  /** The oldest `firstFailedAt` of this workflow's own entries. */
  protected ownOldestFailedAt(): string | null {
    this.ownOldest ??= { at: earliest(Object.values(this.state.entries).map((e) => e.firstFailedAt)) };
    return this.ownOldest.at;
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Alerts

  /** The front raises one `oldest-age` alert per crossing: when the oldest entry (any shard) passes the threshold. */
  async ageLoop(): Promise<void> {
    const threshold = this.settings.oldestAgeAlertMs;
    for (;;) {
      const oldest = this.oldestFailedAt();
      const age = oldest === null ? 0 : workflowNow() - Date.parse(oldest);
      if (age < threshold) this.state.ageAlertArmed = true;
      else if (this.state.ageAlertArmed !== false) {
        this.state.ageAlertArmed = false;
        log.warn('DLQ oldest entry is older than the alert threshold', { oldestFailedAt: oldest, ageMs: age, thresholdMs: threshold });
        this.raise({ kind: 'oldest-age', threshold, value: age, raisedAt: nowIso() });
      }
      // wake when the oldest entry crosses the threshold, or when entries change (a new oldest, or it left)
      const seen = oldest;
      const wait = oldest === null || age >= threshold ? undefined : threshold - age + 1;
      if (wait === undefined) await condition(() => this.stopping || this.oldestFailedAt() !== seen);
      else await condition(() => this.stopping || this.oldestFailedAt() !== seen, wait);
      if (this.stopping) return;
    }
  }

  private checkDepth(): void {
    if (this.role !== 'front') return;
    const total = this.agg.total + this.shardsTotal;
    const limit = this.settings.softLimit;
    if (this.state.depthAlertArmed && total > limit) {
      this.state.depthAlertArmed = false;
      this.raise({ kind: 'depth', threshold: limit, value: total, raisedAt: nowIso() });
      log.warn('DLQ soft limit crossed: new failures are still recorded', { softLimit: limit, entries: total });
    } else if (!this.state.depthAlertArmed && total < limit * 0.9) {
      this.state.depthAlertArmed = true; // re-armed once the depth is well below the limit again
    }
  }

  /** Raises the `state-size` alert when the state carried into the next run is `size` characters, over the threshold. */
  checkStateSize(size: number): void {
    const threshold = this.settings.stateSizeAlertChars;
    if (size < threshold * 0.8) this.state.sizeAlertArmed = true;
    if (size <= threshold || this.state.sizeAlertArmed === false) return;
    this.state.sizeAlertArmed = false;
    log.warn('DLQ continue-as-new state is large: raise shardCount', { chars: size, entries: this.agg.total, shard: this.shard });
    this.raise({ kind: 'state-size', threshold, value: size, raisedAt: nowIso() });
  }

  protected raise(alert: DlqAlert): void {
    // the worker logs it and, when ALERT_WEBHOOK_URL is set, POSTs it; a lost webhook must not stop the DLQ
    const delivery = this.acts.alert.notifyDlqAlert({ dlqWorkflowId: this.frontId, shard: this.shard, alert }).catch((err: unknown) => {
      log.error('could not deliver a DLQ alert', { kind: alert.kind, error: String(err) });
    });
    this.deliveries.add(delivery);
    void delivery.finally(() => this.deliveries.delete(delivery));
    this.state.alerts.push(alert);
    if (this.state.alerts.length > ALERTS_KEPT) this.state.alerts.splice(0, this.state.alerts.length - ALERTS_KEPT);
    this.detailsDirty = true;
    this.statsDirty = true;
    if (this.role === 'shard') this.state.snapshot.dirty = true;
  }
}
