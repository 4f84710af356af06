// The dead-letter queue: a long-lived workflow that holds every final failure durably, answers `stats`, `list` and
// `audit`, and takes `retry` / `discard` / `purge` orders, by signal (fire and forget; malformed ones are logged and
// ignored) or by validated update (returns what it did). It never completes on its own: it continues as new.
//
// Capacity. State is plain JSON (`DlqRunState`) carried by continue-as-new, so one run holds what fits in one payload
// (2 MB hard limit; we aim at ≤ 1 MB). Entries travel as packed rows (./pack): ~240 B for a fresh token-captcha
// entry, ~400 B with ten attempts of history (plain JSON: ~1.3 KB and ~2.8 KB) — measured by test/dlq.test.ts. Budget:
// 2,000 entries per workflow. Beyond that the entries are spread over `shardCount` workflows of this same type by a
// stable hash of the entry id (./routing): shard 0 is the front (`captcha-dlq`), shard i is
// `captcha-dlq/shard-<i>`, started on demand by the report activity; 100,000 entries → shardCount 50. Each shard keeps
// its own entries and pushes a compact snapshot of its counts (monotonic `seq`, latest wins) to the front, debounced
// and paced so that the front takes at most 5 snapshots/s from all shards together (one slot per shard in a cycle of
// shardCount / 5 s; FRONT_SNAPSHOTS_PER_SECOND); the front's `stats` merges them (exact once the snapshots land;
// `asOf` says when). No signal costs the front a pass over its entries or shards. Operator orders go to the front,
// which applies them to its own entries and forwards them (same request id, same time watermark) to every shard, and
// sums what they did. `list` pages through the front, then shard 1, 2, …: a page's `nextWorkflowId` says which
// workflow the `nextCursor` belongs to. A state over 1 MB raises a `state-size` alert; over 1.8 MB the run does not
// continue as new (it would fail) but goes on and alerts.
// With one shard (the default) none of that machinery runs.
import {
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setDefaultSignalHandler,
  setHandler,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { AlertActivities } from '../../activities/alerts';
import type { DlqActivities, ForwardOrderOutput, RetryChildLookup } from '../../activities/dlq';
import { packEntries, unpackEntries } from './pack';
import { dlqShardWorkflowId } from './routing';
import {
  DLQ_ENTRY_STATUSES,
  DLQ_FILTER_FIELDS,
  DLQ_REQUEST_CHARS_MAX,
  WORKFLOW_TYPES,
  batchIdAttribute,
  deadLetterSignal,
  dlqAuditQuery,
  dlqDiscardSignal,
  dlqDiscardUpdate,
  dlqForwardedOrderUpdate,
  dlqListQuery,
  dlqPurgeUpdate,
  dlqResetShardUpdate,
  dlqRetrySignal,
  dlqRetryUpdate,
  dlqShardSnapshotSignal,
  dlqStatsQuery,
  sitekeyAttribute,
  solveOutcomeSignal,
  type DlqAlert,
  type DlqAuditRecord,
  type DlqEntry,
  type DlqEntryStatus,
  type DlqFilter,
  type DlqForwardedOrder,
  type DlqInput,
  type DlqListPage,
  type DlqOperationResult,
  type DlqResetShardResult,
  type DlqRunState,
  type DlqSettings,
  type DlqShardSnapshot,
  type DlqStats,
  type RetryRef,
  type SolveOutcome,
} from '../messages';
import { DLQ_ALERT_ACTIVITY_OPTIONS, DLQ_FORWARD_ACTIVITY_OPTIONS, DLQ_LOOKUP_ACTIVITY_OPTIONS, DLQ_SNAPSHOT_ACTIVITY_OPTIONS } from '../policies';
import type { solveCaptchaWorkflow } from '../solve';
import { FAILURE_CLASSES } from '../types';
import type { AttemptRecord, CaptchaTask, DeadLetterReport, FailureClass, SolveFailureDetails, SolveInput, SolvePolicyOverrides } from '../types';

export const DLQ_DEFAULTS = Object.freeze({
  retryCap: 3,
  retryConcurrency: 10,
  retryRatePerSecond: 5,
  softLimit: 10_000,
  oldestAgeAlertMs: 24 * 3_600_000,
  maxMessagesPerRun: 2_000,
  shardCount: 1,
  snapshotIntervalMs: 1_000,
  retryStaleAfterMs: 30 * 60_000,
  stateSizeAlertChars: 1_000_000,
});

/** Attempts kept per entry (the most recent). */
const HISTORY_LIMIT = 10;
const MESSAGE_LIMIT = 500;
const TEXT_LIMIT = 500;
const AUDIT_KEPT = { front: 200, shard: 50 };
const REQUEST_IDS_KEPT = 1_000;
const RESULTS_KEPT = 50;
/** ids of a kept result's sample */
const RESULT_SAMPLE_KEPT = 5;
const REMOVED_KEPT = 1_000;
const ALERTS_KEPT = 50;
const LIST_MAX = 500;
const LIST_DEFAULT = 100;
const SAMPLE_SIZE = 20;
const FILTER_VALUES_MAX = 10_000;
/** with BOUNDED_PATCH: values per filter field, characters of one order / report / snapshot (JSON) */
const FILTER_VALUES_BOUNDED = 1_000;
const REQUEST_CHARS_MAX = DLQ_REQUEST_CHARS_MAX;
const REPORT_CHARS_MAX = 64_000;
const SNAPSHOT_CHARS_MAX = 64_000;
/** keys per count map of a snapshot; characters of a quoted piece of input in a rejection or log line */
const SNAPSHOT_MAP_KEYS_MAX = 500;
const QUOTE_MAX = 50;
/** a rejection or log message built from input is cut here */
const PROBLEMS_MAX = 300;
const SNAPSHOT_KEYS_MAX = 50;
/**
 * Above this the run does not continue as new (the payload limit is 2 MB): it keeps running on a growing history and
 * alerts, until entries leave or the history limit ends it. Never reached with a sound `shardCount`.
 */
const STATE_SIZE_MAX = 1_800_000;
/** retry children looked up per sweep */
const LOOKUP_BATCH = 100;
/**
 * Snapshots the front takes per second from all its shards together, at most. One workflow execution takes a few
 * signals per second comfortably: each one is a write under the execution's lock, and while a workflow task is in
 * flight they pile up in its buffer (the server fails the task when the buffer is full, and callers meet "Workflow is
 * busy"). A front that every shard signalled once per `snapshotIntervalMs` (100,000 entries on 167 shards: up to 167
 * signals/s) fell behind, lost its tasks, and then took thousands of signals in one activation. So each shard pushes in
 * its own slot of a cycle of shardCount / FRONT_SNAPSHOTS_PER_SECOND seconds (never shorter than `snapshotIntervalMs`):
 * 17 shards push every 3.4 s each, 50 shards every 10 s, 167 shards every 33 s, and the front takes ≤ 5 snapshots/s
 * whatever the shard count. Stats are exact at most one cycle after the last failure lands.
 */
const FRONT_SNAPSHOTS_PER_SECOND = 5;
/** `patched` id of the slotted snapshot pacing (runs started before it keep pushing first and waiting after) */
const SNAPSHOT_SLOTS_PATCH = 'dlq-snapshot-slots';
/** `patched` ids of issue 12's guards; runs started before them keep the old behaviour until they continue as new */
const OWN_SHARDS_PATCH = 'dlq-snapshots-from-own-shards';
const BOUNDED_PATCH = 'dlq-bounded-messages';
const UNKNOWN_SIGNALS_PATCH = 'dlq-unknown-signals';
const AWAIT_ALERTS_PATCH = 'dlq-await-alerts-before-continue-as-new';

type Operation = DlqOperationResult['operation'];
type Role = 'front' | 'shard';

interface Settings {
  retryCap: number;
  retryConcurrency: number;
  retryRatePerSecond: number;
  softLimit: number;
  oldestAgeAlertMs: number;
  maxMessagesPerRun: number;
  shardCount: number;
  snapshotIntervalMs: number;
  retryStaleAfterMs: number;
  stateSizeAlertChars: number;
  indexSitekeys: boolean;
  solvePolicy?: SolvePolicyOverrides;
  taskQueue: string;
}

/** An order after validation: the filter, normalized. */
interface Order {
  filter: DlqFilter;
  all: boolean;
  reason: string;
  by: string;
  requestId?: string;
  dryRun: boolean;
}

interface Watermark {
  /** entries with a smaller seq (this workflow's own orders) */
  seq?: number;
  /** entries received at or before (orders forwarded by the front) */
  at?: string;
}

type Counts = Omit<DlqShardSnapshot, 'workflowId' | 'shard' | 'seq' | 'asOf'>;

type Outcome =
  | { kind: 'solved' }
  | { kind: 'failed'; failure: Partial<SolveFailureDetails> }
  | { kind: 'cancelled' }
  | { kind: 'lost'; status: string };

export async function deadLetterQueueWorkflow(input: DlqInput = {}): Promise<void> {
  const dlq = new DeadLetterQueue(input ?? {});
  dlq.install();
  await dlq.run();
}

class DeadLetterQueue {
  private readonly role: Role;
  private readonly selfId: string;
  private readonly frontId: string;
  private readonly shard: number;
  private readonly state: DlqRunState;
  private settings: Settings;
  private readonly agg = emptyAgg();
  /** `${id}\u0000${failedAt}` of `state.removed` */
  private readonly removedKeys = new Set<string>();
  private readonly pendingOrders = new Map<string, Promise<DlqOperationResult>>();
  private messages = 0;
  private stopping = false;
  /** the guards of issue 12, each behind its patch (see install) */
  private readonly guards = { ownShards: false, bounded: false, awaitAlerts: false };
  /** alert deliveries not finished yet: awaited before continue-as-new */
  private readonly deliveries = new Set<Promise<void>>();
  private detailsDirty = true;
  /**
   * Kept as signals land, so that no signal costs a pass over every entry or shard (conditions are checked after each
   * signal of an activation): the sum of the shards' totals, and the oldest `firstFailedAt` of this workflow's entries
   * and of the shards' snapshots — `undefined` when it must be recomputed (the oldest one left), once, on next use.
   */
  private shardsTotal = 0;
  private ownOldest: { at: string | null } | undefined;
  private shardsOldest: { at: string | null } | undefined;
  private readonly acts = {
    forward: proxyActivities<DlqActivities>({ ...DLQ_FORWARD_ACTIVITY_OPTIONS, summary: 'forward order to DLQ shards' }),
    snapshot: proxyActivities<DlqActivities>({ ...DLQ_SNAPSHOT_ACTIVITY_OPTIONS, summary: 'push counts to the DLQ front' }),
    lookup: proxyActivities<DlqActivities>({ ...DLQ_LOOKUP_ACTIVITY_OPTIONS, summary: 'look up silent retry children' }),
    alert: proxyActivities<AlertActivities>({ ...DLQ_ALERT_ACTIVITY_OPTIONS, summary: 'send a DLQ alert' }),
  };

  constructor(private readonly input: DlqInput) {
    const info = workflowInfo();
    this.selfId = info.workflowId;
    const isShard = input.role === 'shard' && typeof input.front === 'string' && Number.isInteger(input.shard) && input.shard! > 0;
    if (input.role === 'shard' && !isShard) log.warn('DLQ started as a shard without front/shard: running as a front', { input: { ...input, state: undefined } });
    this.role = isShard ? 'shard' : 'front';
    this.frontId = isShard ? input.front! : this.selfId;
    this.shard = isShard ? input.shard! : 0;
    this.state = input.state ? revive(input.state) : freshState();
    this.state.run++;
    this.settings = resolveSettings(input, this.state.adopted, info.taskQueue);
    for (const e of Object.values(this.state.entries)) addToAgg(this.agg, e, 1);
    for (const [id, at] of this.state.removed) this.removedKeys.add(removedKey(id, at));
    for (const s of Object.values(this.state.shards)) this.shardsTotal += s.total;
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Handlers

  install(): void {
    this.guards.ownShards = patched(OWN_SHARDS_PATCH);
    this.guards.bounded = patched(BOUNDED_PATCH);
    this.guards.awaitAlerts = patched(AWAIT_ALERTS_PATCH);
    setHandler(deadLetterSignal, (report) => {
      this.messages++;
      this.ingest(report);
    });
    setHandler(solveOutcomeSignal, (outcome) => {
      this.messages++;
      this.onOutcome(outcome);
    });
    setHandler(dlqShardSnapshotSignal, (snapshot) => {
      this.messages++;
      this.onSnapshot(snapshot);
    });

    for (const [def, operation] of [
      [dlqRetrySignal, 'retry'],
      [dlqDiscardSignal, 'discard'],
    ] as const) {
      setHandler(def, async (raw: unknown) => {
        this.messages++;
        const parsed = parseOrder(operation, raw, this.guards.bounded);
        if (!parsed.ok) {
          log.warn('ignored a malformed DLQ order', { signal: def.name, error: parsed.error });
          return;
        }
        try {
          const result = await this.execute(operation, parsed.order, 'signal');
          log.info('DLQ order applied', { ...result, sample: undefined });
        } catch (err) {
          log.error('DLQ order failed', { signal: def.name, error: String(err) });
        }
      });
    }

    for (const [def, operation] of [
      [dlqRetryUpdate, 'retry'],
      [dlqDiscardUpdate, 'discard'],
      [dlqPurgeUpdate, 'purge'],
    ] as const) {
      setHandler(
        def,
        async (raw: unknown) => {
          this.messages++;
          const parsed = parseOrder(operation, raw, this.guards.bounded);
          if (!parsed.ok) throw invalid(parsed.error); // unreachable: the validator rejected it
          return this.execute(operation, parsed.order, 'update');
        },
        {
          validator: (raw: unknown) => {
            const parsed = parseOrder(operation, raw, this.guards.bounded);
            if (!parsed.ok) throw invalid(parsed.error);
          },
        },
      );
    }

    setHandler(
      dlqForwardedOrderUpdate,
      async (order) => {
        this.messages++;
        return this.applyForwarded(order);
      },
      {
        validator: (order) => {
          if (this.role !== 'shard') throw invalid(`${this.selfId} is not a DLQ shard: send orders to it directly`);
          const problem = checkForwarded(order, this.guards.bounded);
          if (problem) throw invalid(problem);
        },
      },
    );

    setHandler(
      dlqResetShardUpdate,
      (raw) => {
        this.messages++;
        return this.resetShard(this.parseResetShard(raw));
      },
      { validator: (raw) => void this.parseResetShard(raw) },
    );

    // last: signals already buffered go to the handlers above first; only the ones left are unknown
    if (patched(UNKNOWN_SIGNALS_PATCH)) {
      setDefaultSignalHandler((name: string) => {
        this.messages++;
        const lastName = name.slice(0, QUOTE_MAX);
        const count = (this.state.unknownSignals?.count ?? 0) + 1;
        this.state.unknownSignals = { count, lastName };
        log.warn('ignored a signal this DLQ does not know: check its name', { name: lastName, count, known: [deadLetterSignal.name, dlqRetrySignal.name, dlqDiscardSignal.name] });
        this.detailsDirty = true;
      });
    }
    setHandler(dlqStatsQuery, (req) => this.stats(parseStatsRequest(req)));
    setHandler(dlqListQuery, (req) => this.list(req));
    setHandler(dlqAuditQuery, (req) => {
      const limit = intField(req, 'limit', 1, LIST_MAX, LIST_DEFAULT, 'audit');
      return this.state.audit.slice(-limit).reverse();
    });
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Main loop

  async run(): Promise<void> {
    log.info('DLQ run started', {
      role: this.role,
      shard: this.shard,
      run: this.state.run,
      entries: this.agg.total,
      retriesInFlight: Object.keys(this.state.inFlight).length,
      retriesQueued: this.state.queue.length,
    });
    if (this.role === 'shard') this.state.snapshot.dirty ||= this.state.run === 1;
    let threshold = this.settings.maxMessagesPerRun;
    let suggestedAfter = 0;
    for (;;) {
      this.stopping = false;
      const loops = [this.dispatchLoop(), this.sweepLoop(), this.detailsLoop()];
      if (this.role === 'front') loops.push(this.ageLoop());
      if (this.role === 'shard') loops.push(this.snapshotLoop());
      await condition(() => this.messages >= threshold || (workflowInfo().continueAsNewSuggested && this.messages >= suggestedAfter));
      this.stopping = true;
      await Promise.all(loops);
      await condition(allHandlersFinished);
      let carried: DlqRunState;
      let size: number;
      for (;;) {
        carried = this.carriedState();
        size = JSON.stringify(carried).length;
        this.checkStateSize(size);
        // alerts raised and not delivered yet (the state-size one just now) are delivered before this run closes; what
        // arrived meanwhile is in the state taken again
        if (!this.guards.awaitAlerts || this.deliveries.size === 0) break;
        await Promise.all([...this.deliveries]);
        await condition(allHandlersFinished);
      }
      const state = { ...carried, alerts: this.state.alerts, sizeAlertArmed: this.state.sizeAlertArmed };
      if (size <= STATE_SIZE_MAX) {
        log.info('DLQ continuing as new', { run: this.state.run, messages: this.messages, entries: this.agg.total, stateChars: size });
        const { state: _state, ...settings } = this.input;
        await continueAsNew<typeof deadLetterQueueWorkflow>({ ...settings, state });
      }
      log.error('DLQ state too large to continue as new: this run goes on; raise shardCount or discard entries', {
        stateChars: size,
        entries: this.agg.total,
      });
      threshold = this.messages + this.settings.maxMessagesPerRun;
      suggestedAfter = this.messages + Math.ceil(this.settings.maxMessagesPerRun / 10);
    }
  }

  /** The state for the next run: entries in compact rows. */
  private carriedState(): DlqRunState {
    return { ...this.state, entries: {}, packed: packEntries(Object.values(this.state.entries)) };
  }

  /** Starts retry children from the queue: ≤ retryConcurrency in flight, ≤ retryRatePerSecond started. */
  private async dispatchLoop(): Promise<void> {
    for (;;) {
      await condition(() => this.stopping || (this.state.queue.length > 0 && this.freeSlots() > 0));
      if (this.stopping) return;
      const { retryRatePerSecond: rate } = this.settings;
      const burst = Math.min(this.state.queue.length, this.freeSlots(), Math.max(1, Math.floor(rate)));
      const batch = this.state.queue.splice(0, burst);
      await Promise.all(batch.map((ref) => this.startRetry(ref)));
      this.changed();
      await condition(() => this.stopping, Math.ceil((burst * 1000) / rate));
    }
  }

  private freeSlots(): number {
    return this.settings.retryConcurrency - Object.keys(this.state.inFlight).length;
  }

  private async startRetry(ref: RetryRef): Promise<void> {
    const e = this.entry(ref.entryId);
    if (!e || e.status !== 'retrying' || Object.hasOwn(this.state.inFlight, ref.entryId)) return;
    const childId = `${ref.entryId}/retry-${ref.generation}`;
    // recorded before the start: the child's outcome may arrive in the same activation as its start
    this.state.inFlight[ref.entryId] = { generation: ref.generation, childId, startedAt: nowIso() };
    const solveInput: SolveInput = {
      task: e.task,
      taskKey: e.taskKey,
      ...(e.batchId !== undefined && { batchId: e.batchId }),
      ...(this.settings.solvePolicy && { policy: this.settings.solvePolicy }),
      dlqWorkflowId: null,
      parentWorkflowId: this.selfId,
      retry: { entryId: ref.entryId, generation: ref.generation },
    };
    try {
      await startChild<typeof solveCaptchaWorkflow>(WORKFLOW_TYPES.solve, {
        workflowId: childId,
        taskQueue: this.settings.taskQueue,
        args: [solveInput],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `DLQ retry ${ref.generation} of ${ref.entryId}`,
        typedSearchAttributes: [
          ...(e.batchId ? [{ key: batchIdAttribute, value: e.batchId }] : []),
          ...(e.task.sitekey && this.settings.indexSitekeys ? [{ key: sitekeyAttribute, value: e.task.sitekey }] : []),
        ],
      });
    } catch (err) {
      if ((err as Error | undefined)?.name === 'WorkflowExecutionAlreadyStartedError') {
        log.info('retry child exists already: in flight', { entryId: ref.entryId, childId });
        return;
      }
      log.warn('could not start a retry child', { entryId: ref.entryId, childId, error: String(err) });
      delete this.state.inFlight[ref.entryId];
      this.update(e, () => {
        e.status = this.restingStatus(e);
      });
    }
  }

  /** Retry children that never reported (terminated, timed out, lost signal) are looked up after retryStaleAfterMs. */
  private async sweepLoop(): Promise<void> {
    for (;;) {
      await condition(() => this.stopping || Object.keys(this.state.inFlight).length > 0);
      if (this.stopping) return;
      const stale = this.settings.retryStaleAfterMs;
      const now = workflowNow();
      let due = Infinity;
      const overdue: { entryId: string; childId: string; generation: number }[] = [];
      for (const [entryId, f] of Object.entries(this.state.inFlight)) {
        const at = Date.parse(f.checkedAt ?? f.startedAt) + stale;
        if (at <= now && overdue.length < LOOKUP_BATCH) overdue.push({ entryId, childId: f.childId, generation: f.generation });
        else due = Math.min(due, at);
      }
      if (overdue.length === 0) {
        await condition(() => this.stopping || Object.keys(this.state.inFlight).length === 0, Math.max(1, due - now));
        continue;
      }
      let found: RetryChildLookup[];
      try {
        found = await this.acts.lookup.lookupDlqRetryChildren({ workflowIds: overdue.map((o) => o.childId) });
      } catch (err) {
        log.warn('could not look up retry children', { error: String(err) });
        found = [];
      }
      const checkedAt = nowIso();
      for (const o of overdue) {
        const f = this.state.inFlight[o.entryId];
        if (!f || f.generation !== o.generation) continue; // it reported meanwhile
        const status = found.find((x) => x.workflowId === o.childId);
        if (!status || status.status === 'RUNNING' || status.status === 'UNKNOWN') {
          f.checkedAt = checkedAt;
          continue;
        }
        log.warn('retry child ended without reporting', { entryId: o.entryId, childId: o.childId, status: status.status });
        delete this.state.inFlight[o.entryId];
        const e = this.entry(o.entryId);
        if (!e) continue;
        if (status.status === 'COMPLETED') this.resolveRetry(e, { kind: 'solved' });
        else if (status.status === 'FAILED' && status.failure) this.resolveRetry(e, { kind: 'failed', failure: status.failure });
        else if (status.status === 'CANCELLED') this.resolveRetry(e, { kind: 'cancelled' });
        else this.resolveRetry(e, { kind: 'lost', status: status.status });
      }
      this.changed();
      if (this.stopping) return;
    }
  }

  /**
   * Shards: push a snapshot of the counts to the front when they changed, at most one in flight, in this shard's own
   * slot (see FRONT_SNAPSHOTS_PER_SECOND); changes that arrive meanwhile ride on the next push.
   */
  private async snapshotLoop(): Promise<void> {
    const slotted = patched(SNAPSHOT_SLOTS_PATCH);
    for (;;) {
      await condition(() => this.stopping || this.state.snapshot.dirty);
      if (this.stopping) return;
      if (slotted) {
        await condition(() => this.stopping, this.untilSnapshotSlot());
        if (this.stopping) return; // still dirty: the next run pushes it
      }
      this.state.snapshot.dirty = false;
      this.state.snapshot.seq++;
      try {
        await this.acts.snapshot.pushDlqSnapshot({
          frontWorkflowId: this.frontId,
          snapshot: this.snapshotOf(),
          frontArgs: { shardCount: this.settings.shardCount },
        });
      } catch (err) {
        log.warn('could not push the DLQ snapshot to the front', { front: this.frontId, error: String(err) });
        this.state.snapshot.dirty = true;
      }
      if (!slotted) await condition(() => this.stopping, this.settings.snapshotIntervalMs);
    }
  }

  /** Milliseconds until this shard's next slot: the slots of all shards are spread evenly over one cycle. */
  private untilSnapshotSlot(): number {
    const { shardCount, snapshotIntervalMs } = this.settings;
    const spacing = 1000 / FRONT_SNAPSHOTS_PER_SECOND;
    const cycle = Math.max(snapshotIntervalMs, shardCount * spacing);
    const offset = (this.shard * spacing) % cycle;
    const now = workflowNow();
    const next = Math.floor((now - offset) / cycle) * cycle + offset + cycle; // the first slot after now
    return Math.max(1, Math.ceil(next - now));
  }

  /** Web UI: a small Markdown summary, rendered once per activation that changed something. */
  private async detailsLoop(): Promise<void> {
    for (;;) {
      await condition(() => this.stopping || this.detailsDirty);
      if (this.detailsDirty) {
        this.detailsDirty = false;
        setCurrentDetails(this.details());
      }
      if (this.stopping) return;
    }
  }

  /** The front raises one `oldest-age` alert per crossing: when the oldest entry (any shard) passes the threshold. */
  private async ageLoop(): Promise<void> {
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

  /** The oldest `firstFailedAt` here and in every shard's snapshot. */
  private oldestFailedAt(): string | null {
    const own = this.ownOldestFailedAt();
    if (this.role !== 'front') return own;
    this.shardsOldest ??= { at: earliest(Object.values(this.state.shards).map((s) => s.oldestFailedAt)) };
    return earliest([own, this.shardsOldest.at]);
  }

  /** The oldest `firstFailedAt` of this workflow's own entries. */
  private ownOldestFailedAt(): string | null {
    this.ownOldest ??= { at: earliest(Object.values(this.state.entries).map((e) => e.firstFailedAt)) };
    return this.ownOldest.at;
  }

  private changed(): void {
    this.detailsDirty = true;
    if (this.role === 'shard') this.state.snapshot.dirty = true;
    this.checkDepth();
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Entries

  private entry(id: string): DlqEntry | undefined {
    return Object.hasOwn(this.state.entries, id) ? this.state.entries[id] : undefined;
  }

  /** Every change of an entry goes through here, so the counts stay exact. */
  private update(e: DlqEntry, mutate: () => void): void {
    addToAgg(this.agg, e, -1);
    mutate();
    addToAgg(this.agg, e, 1);
  }

  private remove(e: DlqEntry): void {
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

  private restingStatus(e: DlqEntry): DlqEntryStatus {
    return e.dlqRetries >= this.settings.retryCap ? 'parked' : 'dead';
  }

  private ingest(raw: unknown): void {
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

  private onOutcome(raw: SolveOutcome): void {
    const o = raw as Partial<SolveOutcome> | undefined;
    const ref = o?.retry;
    if (!o || typeof o !== 'object' || !ref || typeof ref.entryId !== 'string') {
      log.warn('ignored a solve outcome that is not a DLQ retry', { taskKey: quote(o?.taskKey) });
      return;
    }
    const f = Object.hasOwn(this.state.inFlight, ref.entryId) ? this.state.inFlight[ref.entryId] : undefined;
    if (!f || f.generation !== ref.generation) {
      log.info('ignored an outcome of a retry that is not in flight (repeated or stale)', { entryId: quote(ref.entryId), generation: quote(ref.generation) });
      return;
    }
    delete this.state.inFlight[ref.entryId];
    const e = this.entry(ref.entryId);
    if (!e) return;
    if (o.outcome === 'solved') this.resolveRetry(e, { kind: 'solved' });
    else if (o.outcome === 'failed') this.resolveRetry(e, { kind: 'failed', failure: (o.failure ?? {}) as Partial<SolveFailureDetails> });
    else this.resolveRetry(e, { kind: 'cancelled' });
    this.changed();
  }

  private resolveRetry(e: DlqEntry, outcome: Outcome): void {
    if (outcome.kind === 'solved') {
      this.remove(e);
      this.state.counters.recovered++;
      log.info('DLQ entry recovered', { entryId: e.id, dlqRetries: e.dlqRetries + 1 });
      return;
    }
    const now = nowIso();
    this.update(e, () => {
      if (outcome.kind === 'cancelled') {
        e.status = this.restingStatus(e);
        return;
      }
      if (outcome.kind === 'failed') {
        const f = outcome.failure;
        e.attempts += nonNegative(f.attempts);
        e.paidSubmits += nonNegative(f.paidSubmits);
        e.failureClass = knownClass(f.failureClass);
        e.code = typeof f.code === 'string' && f.code ? f.code.slice(0, 200) : 'UNKNOWN';
        e.message = redact(typeof f.message === 'string' ? f.message : '');
        e.history = [...e.history, ...sanitizeHistory(f.history, now)].slice(-HISTORY_LIMIT);
      } else {
        e.failureClass = 'internal';
        e.code = `RETRY_${outcome.status}`;
        e.message = `the retry child ended ${outcome.status} without reporting`;
      }
      e.lastFailedAt = now;
      e.dlqRetries++;
      e.status = this.restingStatus(e);
    });
    if (e.status === 'parked') log.info('DLQ entry parked: retry cap reached', { entryId: e.id, dlqRetries: e.dlqRetries, code: e.code });
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Orders

  private async execute(operation: Operation, order: Order, via: 'signal' | 'update'): Promise<DlqOperationResult> {
    const requestId = order.requestId ?? (via === 'update' ? currentUpdateInfo()?.id : undefined) ?? uuid4();
    const repeated = this.repeated(operation, requestId, order.dryRun);
    if (repeated) return repeated;
    const now = nowIso();
    const local = this.apply(operation, order, { seq: this.state.nextSeq }, requestId);
    const running = (async (): Promise<DlqOperationResult> => {
      const result: DlqOperationResult = { ...local, workflows: 1 };
      const shards = this.shardIds();
      if (this.role === 'front' && shards.length > 0) {
        const forwarded: DlqForwardedOrder = {
          operation,
          request: { ...order.filter, all: order.all, reason: order.reason, by: order.by, requestId, dryRun: order.dryRun },
          watermarkAt: now,
          from: this.selfId,
          settings: this.shardSettings(),
        };
        let results: ForwardOrderOutput['results'];
        try {
          ({ results } = await this.acts.forward.forwardDlqOrder({ workflowIds: shards, order: forwarded }));
        } catch (err) {
          log.error('could not forward a DLQ order to the shards: applied to the front only', { requestId, error: String(err) });
          results = shards.map((workflowId) => ({ workflowId, result: null, error: String(err) }));
        }
        for (const r of results) {
          if (r.error !== undefined) (result.unreached ??= []).push(r.workflowId);
          if (!r.result) continue;
          result.matched += r.result.matched;
          result.skipped += r.result.skipped;
          result.workflows! += 1;
          for (const id of r.result.sample) if (result.sample.length < SAMPLE_SIZE) result.sample.push(id);
        }
      }
      if (!order.dryRun) this.record(operation, order, result, via, now);
      return result;
    })();
    if (!order.dryRun) {
      this.pendingOrders.set(requestId, running);
      void running.finally(() => this.pendingOrders.delete(requestId)).catch(() => undefined);
    }
    return running;
  }

  /** The result of an order already applied with this request id (this run or an earlier one), or undefined. */
  private repeated(operation: Operation, requestId: string, dryRun: boolean): DlqOperationResult | Promise<DlqOperationResult> | undefined {
    if (dryRun) return undefined;
    const pending = this.pendingOrders.get(requestId);
    if (pending) return pending.then((r) => ({ ...r, duplicate: true }));
    if (!this.state.requests.ids.includes(requestId)) return undefined;
    const earlier = this.state.requests.results.find((r) => r.requestId === requestId);
    log.info('repeated DLQ order: no change', { requestId, operation });
    return earlier
      ? { ...earlier, duplicate: true }
      : { operation, requestId, dryRun: false, matched: 0, sample: [], skipped: 0, duplicate: true };
  }

  /** Applies an order to this workflow's own entries (synchronously: nothing arrives in between). */
  private apply(operation: Operation, order: Order, watermark: Watermark, requestId: string): DlqOperationResult {
    const result: DlqOperationResult = { operation, requestId, dryRun: order.dryRun, matched: 0, sample: [], skipped: 0 };
    const explicit = new Set(order.filter.ids ?? []);
    const selected = this.select(order.filter, watermark);
    for (const e of selected) {
      if (operation === 'purge' && e.status !== 'parked') continue;
      if (e.status === 'retrying') {
        result.skipped++;
        continue;
      }
      if (operation === 'retry' && !explicit.has(e.id) && (e.status === 'parked' || e.failureClass === 'account')) {
        result.skipped++;
        continue;
      }
      result.matched++;
      if (result.sample.length < SAMPLE_SIZE) result.sample.push(e.id);
      if (order.dryRun) continue;
      if (operation === 'retry') {
        const generation = (e.lastGeneration ?? e.dlqRetries) + 1;
        this.update(e, () => {
          e.status = 'retrying';
          e.lastGeneration = generation;
        });
        this.state.queue.push({ entryId: e.id, generation });
      } else {
        this.remove(e);
        if (operation === 'discard') this.state.counters.discarded++;
        else this.state.counters.purged++;
      }
    }
    if (!order.dryRun) {
      const ids = this.state.requests.ids;
      ids.push(requestId);
      if (ids.length > REQUEST_IDS_KEPT) ids.splice(0, ids.length - REQUEST_IDS_KEPT);
      if (result.matched > 0) this.changed();
    }
    return result;
  }

  private record(operation: Operation, order: Order, result: DlqOperationResult, via: DlqAuditRecord['via'], watermarkAt: string): void {
    const results = this.state.requests.results;
    results.push({ ...result, sample: result.sample.slice(0, RESULT_SAMPLE_KEPT) });
    if (results.length > RESULTS_KEPT) results.splice(0, results.length - RESULTS_KEPT);
    const audit = this.state.audit;
    audit.push({
      operation,
      requestId: result.requestId,
      by: order.by,
      reason: order.reason,
      at: nowIso(),
      matched: result.matched,
      skipped: result.skipped,
      filter: { ...order.filter, ...(order.all && { all: true }) },
      watermarkAt,
      ...(via && { via }),
    });
    const kept = AUDIT_KEPT[this.role];
    if (audit.length > kept) audit.splice(0, audit.length - kept);
    log.info('DLQ order', { operation, requestId: result.requestId, by: order.by, reason: order.reason, matched: result.matched, skipped: result.skipped });
  }

  private async applyForwarded(fo: DlqForwardedOrder): Promise<DlqOperationResult> {
    this.state.adopted = { ...fo.settings };
    this.settings = resolveSettings(this.input, this.state.adopted, workflowInfo().taskQueue);
    const parsed = parseOrder(fo.operation, fo.request, this.guards.bounded);
    if (!parsed.ok) throw invalid(parsed.error); // the validator let it through: it cannot happen
    const { requestId } = fo.request;
    const repeated = this.repeated(fo.operation, requestId, parsed.order.dryRun);
    if (repeated) return repeated;
    const result = this.apply(fo.operation, parsed.order, { at: fo.watermarkAt }, requestId);
    if (!parsed.order.dryRun) this.record(fo.operation, parsed.order, result, 'front', fo.watermarkAt);
    return { ...result, workflows: 1 };
  }

  /** Every shard the front knows of: the configured ones and any that pushed a snapshot. */
  private shardIds(): string[] {
    if (this.role !== 'front') return [];
    const ids = new Set<string>();
    for (let i = 1; i < this.settings.shardCount; i++) ids.add(dlqShardWorkflowId(this.frontId, i));
    for (const id of Object.keys(this.state.shards)) ids.add(id);
    return [...ids];
  }

  /** What shards adopt from the front: the same policy, and the front's limits split between them. */
  private shardSettings(): DlqSettings {
    const s = this.settings;
    const n = Math.max(1, s.shardCount);
    return {
      retryCap: s.retryCap,
      retryConcurrency: Math.max(1, Math.ceil(s.retryConcurrency / n)),
      retryRatePerSecond: s.retryRatePerSecond / n,
      maxMessagesPerRun: s.maxMessagesPerRun,
      shardCount: s.shardCount,
      snapshotIntervalMs: s.snapshotIntervalMs,
      retryStaleAfterMs: s.retryStaleAfterMs,
      stateSizeAlertChars: s.stateSizeAlertChars,
      taskQueue: s.taskQueue,
      ...(s.solvePolicy && { solvePolicy: s.solvePolicy }),
    };
  }

  /** Entries matching the filter and under the watermark. */
  private select(filter: DlqFilter, watermark: Watermark): DlqEntry[] {
    const m = compileFilter(filter);
    const candidates = filter.ids ? filter.ids.map((id) => this.entry(id)).filter((e): e is DlqEntry => !!e) : Object.values(this.state.entries);
    const seen = new Set<string>();
    return candidates.filter((e) => {
      if (seen.has(e.id)) return false;
      seen.add(e.id);
      if (watermark.seq !== undefined && e.seq >= watermark.seq) return false;
      if (watermark.at !== undefined && e.receivedAt > watermark.at) return false;
      return matches(e, m);
    });
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Shards and alerts

  private onSnapshot(raw: DlqShardSnapshot): void {
    if (this.role !== 'front') {
      log.warn('a DLQ shard received a shard snapshot: ignored', { from: quote((raw as Partial<DlqShardSnapshot>)?.workflowId) });
      return;
    }
    const s = raw as Partial<DlqShardSnapshot> | undefined;
    if (!s || typeof s !== 'object' || typeof s.workflowId !== 'string' || typeof s.seq !== 'number' || typeof s.total !== 'number' || !Number.isFinite(s.total) || s.workflowId === '__proto__') {
      log.warn('ignored a malformed DLQ shard snapshot');
      return;
    }
    if (this.guards.ownShards) {
      const checked = checkSnapshot(raw, this.frontId, this.settings.shardCount);
      if (!checked.ok) {
        log.warn('ignored a DLQ shard snapshot', { error: checked.error });
        return;
      }
      raw = checked.snapshot;
    }
    const known = Object.hasOwn(this.state.shards, s.workflowId) ? this.state.shards[s.workflowId] : undefined;
    if (known && known.seq >= s.seq) return; // stale or repeated
    this.state.shards[s.workflowId] = raw;
    this.shardsTotal += raw.total - (known?.total ?? 0);
    const at = raw.oldestFailedAt;
    if (this.shardsOldest) {
      if (known?.oldestFailedAt && known.oldestFailedAt === this.shardsOldest.at && at !== known.oldestFailedAt) this.shardsOldest = undefined;
      else if (at && (this.shardsOldest.at === null || at < this.shardsOldest.at)) this.shardsOldest.at = at;
    }
    this.changed();
  }

  /** Validates a `resetShard` request: the front only, a shard index it has (by shardCount or by a snapshot), a reason. */
  private parseResetShard(raw: unknown): { workflowId: string; shard: number; reason: string; by: string } {
    if (this.role !== 'front') throw invalid(`${this.selfId} is a DLQ shard: send resetShard to its front ${this.frontId}`);
    const example = '{"shard":1,"reason":"forged snapshot"}';
    if (!isObject(raw)) throw invalid(`invalid resetShard request: expected a JSON object such as ${example}`);
    const problems: string[] = [];
    unknownFields(raw, ['shard', 'reason', 'by'], problems);
    const reason = optionalText(raw, 'reason', problems);
    const by = optionalText(raw, 'by', problems);
    if (raw.reason === undefined) problems.push('reason is required: say why the shard is reset');
    const { shard } = raw;
    const workflowId = typeof shard === 'number' && Number.isSafeInteger(shard) ? dlqShardWorkflowId(this.frontId, shard) : '';
    if (!workflowId || (shard as number) < 1 || ((shard as number) >= this.settings.shardCount && !Object.hasOwn(this.state.shards, workflowId))) {
      problems.push(`shard ${quote(shard)} is not a shard of ${this.frontId}: give an index from 1 to ${this.settings.shardCount - 1}${this.settings.shardCount > 1 ? '' : ' (it has no shards)'}`);
    }
    if (problems.length > 0) throw invalid(clip(`invalid resetShard request: ${problems.join('; ')}`));
    return { workflowId, shard: shard as number, reason: reason!, by: by ?? 'unknown' };
  }

  /** Forgets a shard's last snapshot, so that the shard's next one counts whatever its seq. */
  private resetShard({ workflowId, shard, reason, by }: { workflowId: string; shard: number; reason: string; by: string }): DlqResetShardResult {
    const known = Object.hasOwn(this.state.shards, workflowId) ? this.state.shards[workflowId] : undefined;
    if (known) {
      delete this.state.shards[workflowId];
      this.shardsTotal -= known.total;
      this.shardsOldest = undefined;
      this.changed();
    }
    log.warn('DLQ shard snapshot reset by an operator', { workflowId, shard, by, reason, removedTotal: known?.total ?? 0 });
    return { workflowId, shard, removedTotal: known?.total ?? 0, hadSnapshot: !!known };
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

  private raise(alert: DlqAlert): void {
    // the worker logs it and, when ALERT_WEBHOOK_URL is set, POSTs it; a lost webhook must not stop the DLQ
    const delivery = this.acts.alert.notifyDlqAlert({ dlqWorkflowId: this.frontId, shard: this.shard, alert }).catch((err: unknown) => {
      log.error('could not deliver a DLQ alert', { kind: alert.kind, error: String(err) });
    });
    this.deliveries.add(delivery);
    void delivery.finally(() => this.deliveries.delete(delivery));
    this.state.alerts.push(alert);
    if (this.state.alerts.length > ALERTS_KEPT) this.state.alerts.splice(0, this.state.alerts.length - ALERTS_KEPT);
    this.detailsDirty = true;
    if (this.role === 'shard') this.state.snapshot.dirty = true;
  }

  private checkStateSize(size: number): void {
    const threshold = this.settings.stateSizeAlertChars;
    if (size < threshold * 0.8) this.state.sizeAlertArmed = true;
    if (size <= threshold || this.state.sizeAlertArmed === false) return;
    this.state.sizeAlertArmed = false;
    log.warn('DLQ continue-as-new state is large: raise shardCount', { chars: size, entries: this.agg.total, shard: this.shard });
    this.raise({ kind: 'state-size', threshold, value: size, raisedAt: nowIso() });
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Queries

  private counts(): Counts {
    const oldest = this.ownOldestFailedAt();
    const sitekeys = capKeys(this.agg.bySitekey);
    const batches = capKeys(this.agg.byBatch);
    const c = this.state.counters;
    return {
      total: this.agg.total,
      byStatus: { ...this.agg.byStatus },
      byCode: { ...this.agg.byCode },
      byClass: { ...this.agg.byClass },
      bySitekey: sitekeys.map,
      byHour: { ...this.agg.byHour },
      byBatch: batches.map,
      ...((sitekeys.truncated || batches.truncated) && { truncated: true }),
      oldestFailedAt: oldest,
      recovered: c.recovered,
      discarded: c.discarded,
      purged: c.purged,
      paidSubmitsOnDead: this.agg.paidSubmits,
      retriesInFlight: Object.keys(this.state.inFlight).length,
      retriesQueued: this.state.queue.length,
      received: c.received,
      duplicateReports: c.duplicateReports,
      ...(this.state.alerts.length > 0 && { alerts: this.state.alerts.slice(-5) }),
    };
  }

  private snapshotOf(): DlqShardSnapshot {
    return { workflowId: this.selfId, shard: this.shard, seq: this.state.snapshot.seq, asOf: nowIso(), ...this.counts() };
  }

  private stats({ top }: { top: number }): DlqStats {
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

  private list(raw: unknown): DlqListPage {
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
      '| status | entries |',
      '|---|---:|',
      ...DLQ_ENTRY_STATUSES.map((s) => `| ${s} | ${c.byStatus[s]} |`),
      `| **total** | **${c.total}** |`,
      '',
    ];
    const errors = topN(c.byCode, 5);
    if (errors.length > 0) lines.push('| top errors | entries |', '|---|---:|', ...errors.map(([code, n]) => `| ${code} | ${n} |`), '');
    lines.push(
      `recovered ${c.recovered} · discarded ${c.discarded} · purged ${c.purged} · retries in flight ${c.retriesInFlight} (queued ${c.retriesQueued})`,
    );
    const lastAlert = this.state.alerts[this.state.alerts.length - 1];
    if (lastAlert) lines.push('', `⚠ ${lastAlert.kind} alert: ${lastAlert.value} > ${lastAlert.threshold} (${lastAlert.raisedAt})`);
    return lines.join('\n');
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// State

function freshState(): DlqRunState {
  return {
    version: 1,
    run: 0,
    nextSeq: 1,
    entries: {},
    queue: [],
    inFlight: {},
    counters: { received: 0, duplicateReports: 0, recovered: 0, discarded: 0, purged: 0 },
    audit: [],
    requests: { ids: [], results: [] },
    removed: [],
    alerts: [],
    depthAlertArmed: true,
    shards: {},
    snapshot: { seq: 0, dirty: false },
  };
}

/** The carried state, with every field present (older runs may lack newer fields) and the entries unpacked. */
function revive(s: DlqRunState): DlqRunState {
  const fresh = freshState();
  const { packed, ...rest } = s;
  const entries: Record<string, DlqEntry> = { ...s.entries };
  if (packed) for (const e of unpackEntries(packed)) entries[e.id] = e;
  return {
    ...fresh,
    ...rest,
    entries,
    counters: { ...fresh.counters, ...s.counters },
    requests: { ...fresh.requests, ...s.requests },
    snapshot: { ...fresh.snapshot, ...s.snapshot },
  };
}

function resolveSettings(input: DlqSettings, adopted: DlqSettings | undefined, ownTaskQueue: string): Settings {
  const src: DlqSettings = { ...input, ...adopted };
  const pick = (name: keyof typeof DLQ_DEFAULTS, ok: (v: number) => boolean): number => {
    const v = src[name];
    if (v === undefined || v === null) return DLQ_DEFAULTS[name];
    if (typeof v === 'number' && ok(v)) return v;
    log.warn('ignored an invalid DLQ setting', { name, value: v as unknown });
    return DLQ_DEFAULTS[name];
  };
  const int = (min: number, max: number) => (v: number) => Number.isInteger(v) && v >= min && v <= max;
  return {
    retryCap: pick('retryCap', int(0, 1_000)),
    retryConcurrency: pick('retryConcurrency', int(1, 500)),
    retryRatePerSecond: pick('retryRatePerSecond', (v) => Number.isFinite(v) && v > 0 && v <= 1_000),
    softLimit: pick('softLimit', int(1, Number.MAX_SAFE_INTEGER)),
    oldestAgeAlertMs: pick('oldestAgeAlertMs', int(1, Number.MAX_SAFE_INTEGER)),
    maxMessagesPerRun: pick('maxMessagesPerRun', int(1, 9_000)),
    shardCount: pick('shardCount', int(1, 10_000)),
    snapshotIntervalMs: pick('snapshotIntervalMs', int(1, 3_600_000)),
    retryStaleAfterMs: pick('retryStaleAfterMs', int(1_000, 30 * 24 * 3_600_000)),
    stateSizeAlertChars: pick('stateSizeAlertChars', int(1_000, STATE_SIZE_MAX)),
    indexSitekeys: src.indexSitekeys !== false,
    ...(src.solvePolicy && typeof src.solvePolicy === 'object' && { solvePolicy: src.solvePolicy }),
    taskQueue: typeof src.taskQueue === 'string' && src.taskQueue ? src.taskQueue : ownTaskQueue,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Counts

interface Agg {
  total: number;
  byStatus: Record<DlqEntryStatus, number>;
  byCode: Record<string, number>;
  byClass: Record<string, number>;
  bySitekey: Record<string, number>;
  byHour: Record<string, number>;
  byBatch: Record<string, number>;
  paidSubmits: number;
}

function emptyAgg(): Agg {
  return {
    total: 0,
    byStatus: { dead: 0, retrying: 0, parked: 0 },
    byCode: dict(),
    byClass: dict(),
    bySitekey: dict(),
    byHour: dict(),
    byBatch: dict(),
    paidSubmits: 0,
  };
}

/** A record without a prototype: any sitekey or code is a safe key. */
function dict(): Record<string, number> {
  return Object.create(null) as Record<string, number>;
}

function bump(record: Record<string, number>, key: string, delta: number): void {
  const v = (record[key] ?? 0) + delta;
  if (v === 0) delete record[key];
  else record[key] = v;
}

function sitekeyOf(task: CaptchaTask): string {
  return task.sitekey ?? (task.type === 'image' ? '(image)' : '(none)');
}

function addToAgg(agg: Agg, e: DlqEntry, delta: 1 | -1): void {
  agg.total += delta;
  agg.byStatus[e.status] += delta;
  bump(agg.byCode, e.code, delta);
  bump(agg.byClass, e.failureClass, delta);
  bump(agg.bySitekey, sitekeyOf(e.task), delta);
  bump(agg.byHour, e.lastFailedAt.slice(11, 13), delta);
  if (e.batchId !== undefined) bump(agg.byBatch, e.batchId, delta);
  agg.paidSubmits += delta * e.paidSubmits;
}

function capKeys(record: Record<string, number>): { map: Record<string, number>; truncated: boolean } {
  const keys = Object.keys(record);
  if (keys.length <= SNAPSHOT_KEYS_MAX) return { map: { ...record }, truncated: false };
  return { map: Object.fromEntries(topN(record, SNAPSHOT_KEYS_MAX)), truncated: true };
}

function mergeCounts(into: Counts, s: Counts): void {
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
  into.retriesInFlight += s.retriesInFlight ?? 0;
  into.retriesQueued += s.retriesQueued ?? 0;
  into.received += s.received ?? 0;
  into.duplicateReports += s.duplicateReports ?? 0;
  if (s.truncated) into.truncated = true;
}

function topN(record: Record<string, number>, n: number): [string, number][] {
  return Object.entries(record)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n);
}

function sortedRecord(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(topN(record, Infinity));
}

/** Index of the first entry with seq > after (entries sorted by seq). */
function firstAfter(entries: DlqEntry[], after: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.seq <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------------------------------
// Filters

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

// ---------------------------------------------------------------------------------------------------------------------
// Validation: hand-written (no zod in workflow code). Orders and list requests carry the filter at the top level.

type Parsed<T> = ({ ok: true } & T) | { ok: false; error: string };

const ORDER_FIELDS: readonly string[] = [...DLQ_FILTER_FIELDS, 'all', 'reason', 'by', 'requestId', 'dryRun'];
const LIST_FIELDS: readonly string[] = [...DLQ_FILTER_FIELDS, 'cursor', 'limit'];
const HINTS: Record<string, string> = {
  codes: 'errorCodes',
  code: 'errorCodes',
  errorCode: 'errorCodes',
  errors: 'errorCodes',
  status: 'statuses',
  class: 'classes',
  failureClass: 'classes',
  failureClasses: 'classes',
  sitekey: 'sitekeys',
  batchId: 'batchIds',
  batch: 'batchIds',
  id: 'ids',
  entryIds: 'ids',
  from: 'since',
  to: 'until',
  dryrun: 'dryRun',
  dry_run: 'dryRun',
  request_id: 'requestId',
};

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'InvalidDlqRequest', message, nonRetryable: true });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownFields(obj: Record<string, unknown>, allowed: readonly string[], problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    if (key === 'filter') problems.push('"filter": put the filter fields at the top level, e.g. {"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"]}');
    else problems.push(`unknown field ${quote(key)}${Object.hasOwn(HINTS, key) ? ` (did you mean "${HINTS[key]}"?)` : ''}`);
  }
}

/** A piece of input for a message: JSON, at most QUOTE_MAX characters (never the input in full). */
function quote(v: unknown): string {
  const text = (v === undefined ? 'undefined' : JSON.stringify(v)) ?? String(v);
  return text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX - 1)}…` : text;
}

/** A message built from input, cut to PROBLEMS_MAX characters. */
function clip(message: string): string {
  return message.length > PROBLEMS_MAX ? `${message.slice(0, PROBLEMS_MAX - 1)}…` : message;
}

/**
 * Undefined when `raw` serializes to at most `max` JSON characters; else one sentence naming its size and its largest
 * field (quoted short).
 */
function oversized(what: string, raw: Record<string, unknown>, max: number): string | undefined {
  let total = 2;
  let largest: [string, number] | undefined;
  for (const [key, value] of Object.entries(raw)) {
    const n = key.length + (JSON.stringify(value)?.length ?? 0) + 4;
    total += n;
    if (!largest || n > largest[1]) largest = [key, n];
  }
  if (total <= max) return undefined;
  return `${what} is ${total.toLocaleString('en-US')} characters of JSON, at most ${max.toLocaleString('en-US')}: ${quote(largest![0])} holds ${largest![1].toLocaleString('en-US')}`;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

function parseFilter(obj: Record<string, unknown>, problems: string[], valuesMax = FILTER_VALUES_MAX): DlqFilter {
  const filter: DlqFilter = {};
  const list = (name: (typeof DLQ_FILTER_FIELDS)[number], allowedValues?: readonly string[]): string[] | undefined => {
    const v = obj[name];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      problems.push(`${name} must be an array of strings, e.g. ["${allowedValues?.[0] ?? 'value'}"]${typeof v === 'string' ? ` (got the string "${v.slice(0, 50)}")` : ''}`);
      return undefined;
    }
    if (v.length === 0) {
      problems.push(`${name} must not be empty (leave it out to not filter on it)`);
      return undefined;
    }
    if (v.length > valuesMax) {
      problems.push(`${name} has ${v.length} values; at most ${valuesMax}`);
      return undefined;
    }
    const bad = v.find((x) => typeof x !== 'string' || x.length === 0 || x.length > 1_000);
    if (bad !== undefined) {
      problems.push(`${name} must hold non-empty strings (got ${JSON.stringify(bad)?.slice(0, 50)})`);
      return undefined;
    }
    if (allowedValues) {
      const unknown = (v as string[]).filter((x) => !allowedValues.includes(x));
      if (unknown.length > 0) {
        problems.push(`${name}: ${unknown.slice(0, 3).map(quote).join(', ')}${unknown.length > 3 ? ` and ${unknown.length - 3} more` : ''} is not one of ${allowedValues.join(', ')}`);
        return undefined;
      }
    }
    return [...new Set(v as string[])];
  };
  const time = (name: 'since' | 'until'): string | undefined => {
    const v = obj[name];
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' && ISO_TIME.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) {
      problems.push(`${name} must be an ISO time with a zone, e.g. "2024-06-01T12:00:00Z" (got ${JSON.stringify(v)?.slice(0, 50)})`);
      return undefined;
    }
    return new Date(ms).toISOString();
  };
  const ids = list('ids');
  const errorCodes = list('errorCodes');
  const classes = list('classes', FAILURE_CLASSES);
  const sitekeys = list('sitekeys');
  const batchIds = list('batchIds');
  const statuses = list('statuses', DLQ_ENTRY_STATUSES);
  const since = time('since');
  const until = time('until');
  if (ids) filter.ids = ids;
  if (errorCodes) filter.errorCodes = errorCodes;
  if (classes) filter.classes = classes as FailureClass[];
  if (sitekeys) filter.sitekeys = sitekeys;
  if (batchIds) filter.batchIds = batchIds;
  if (statuses) filter.statuses = statuses as DlqEntryStatus[];
  if (since) filter.since = since;
  if (until) filter.until = until;
  if (since && until && since >= until) problems.push(`since (${since}) must be before until (${until})`);
  return filter;
}

function optionalText(obj: Record<string, unknown>, name: string, problems: string[]): string | undefined {
  const v = obj[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > TEXT_LIMIT) {
    problems.push(`${name} must be a non-empty string of at most ${TEXT_LIMIT} characters`);
    return undefined;
  }
  return v.trim();
}

function optionalBool(obj: Record<string, unknown>, name: string, problems: string[]): boolean | undefined {
  const v = obj[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') {
    problems.push(`${name} must be true or false (got ${JSON.stringify(v)?.slice(0, 50)})`);
    return undefined;
  }
  return v;
}

/** Validates and normalizes an operator order. */
export function parseOrder(operation: Operation, raw: unknown, bounded = true): Parsed<{ order: Order }> {
  const example = operation === 'retry' ? '{"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"]}' : '{"errorCodes":["ERROR_PAGEURL"],"reason":"bad page URLs"}';
  if (!isObject(raw)) return { ok: false, error: `invalid ${operation} order: expected a JSON object such as ${example} (got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw})` };
  const tooBig = bounded ? oversized(`the ${operation} order`, raw, REQUEST_CHARS_MAX) : undefined;
  if (tooBig) return { ok: false, error: `invalid ${operation} order: ${tooBig}` };
  const problems: string[] = [];
  unknownFields(raw, ORDER_FIELDS, problems);
  const filter = parseFilter(raw, problems, bounded ? FILTER_VALUES_BOUNDED : FILTER_VALUES_MAX);
  const all = optionalBool(raw, 'all', problems);
  const dryRun = optionalBool(raw, 'dryRun', problems);
  const reason = optionalText(raw, 'reason', problems);
  const by = optionalText(raw, 'by', problems);
  const requestId = optionalText(raw, 'requestId', problems);
  if (operation !== 'retry' && reason === undefined && raw.reason === undefined) problems.push(`reason is required: say why these entries are ${operation === 'purge' ? 'purged' : 'discarded'}`);
  const empty = Object.keys(filter).length === 0;
  if (empty && all !== true && problems.length === 0) {
    problems.push(`empty filter: name the entries (${DLQ_FILTER_FIELDS.join(', ')}) or pass "all": true to act on all of them`);
  }
  if (problems.length > 0) return { ok: false, error: clip(`invalid ${operation} order: ${problems.join('; ')}`) };
  return {
    ok: true,
    order: { filter, all: all === true, reason: reason ?? '', by: by ?? 'unknown', ...(requestId !== undefined && { requestId }), dryRun: dryRun === true },
  };
}

interface ListRequest {
  filter: DlqFilter;
  limit: number;
  /** `shard` is undefined for a bare seq: this workflow's own */
  cursor?: { shard?: number; seq: number; text: string };
}

/** Validates a list request: filter fields, `cursor` ("<shard>:<seq>" or "<seq>"), `limit` ≤ 500. */
export function parseList(raw: unknown): Parsed<ListRequest> {
  if (raw === undefined || raw === null) return { ok: true, filter: {}, limit: LIST_DEFAULT };
  if (!isObject(raw)) return { ok: false, error: 'invalid list request: expected a JSON object such as {"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"],"limit":50}' };
  const tooBig = oversized('the list request', raw, REQUEST_CHARS_MAX);
  if (tooBig) return { ok: false, error: `invalid list request: ${tooBig}` };
  const problems: string[] = [];
  unknownFields(raw, LIST_FIELDS, problems);
  const filter = parseFilter(raw, problems, FILTER_VALUES_BOUNDED);
  let limit = LIST_DEFAULT;
  if (raw.limit !== undefined) {
    if (typeof raw.limit !== 'number' || !Number.isInteger(raw.limit) || raw.limit < 1 || raw.limit > LIST_MAX) {
      problems.push(`limit must be an integer from 1 to ${LIST_MAX} (got ${JSON.stringify(raw.limit)?.slice(0, 50)})`);
    } else {
      limit = raw.limit;
    }
  }
  let cursor: ListRequest['cursor'];
  if (raw.cursor !== undefined && raw.cursor !== null && raw.cursor !== '') {
    const text = String(raw.cursor);
    const m = /^(?:(\d+):)?(\d+)$/.exec(text);
    if ((typeof raw.cursor !== 'string' && typeof raw.cursor !== 'number') || !m) problems.push(`cursor must be the nextCursor of a previous page (got ${JSON.stringify(raw.cursor)?.slice(0, 50)})`);
    else cursor = { ...(m[1] !== undefined && { shard: Number(m[1]) }), seq: Number(m[2]), text };
  }
  if (problems.length > 0) return { ok: false, error: clip(`invalid list request: ${problems.join('; ')}`) };
  return { ok: true, filter, limit, ...(cursor && { cursor }) };
}

function intField(raw: unknown, name: string, min: number, max: number, dflt: number, what: string): number {
  if (raw === undefined || raw === null) return dflt;
  if (!isObject(raw)) throw invalid(`invalid ${what} request: expected a JSON object such as {"${name}":${dflt}}`);
  const problems: string[] = [];
  unknownFields(raw, [name], problems);
  const v = raw[name];
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)?.slice(0, 50)})`);
  }
  if (problems.length > 0) throw invalid(clip(`invalid ${what} request: ${problems.join('; ')}`));
  return typeof v === 'number' ? v : dflt;
}

function parseStatsRequest(raw: unknown): { top: number } {
  return { top: intField(raw, 'top', 1, 1_000, 10, 'stats') };
}

function checkForwarded(o: DlqForwardedOrder, bounded: boolean): string | undefined {
  if (!isObject(o)) return 'a forwarded order is a JSON object';
  if (!['retry', 'discard', 'purge'].includes(o.operation)) return `unknown operation ${quote(o.operation)}`;
  if (typeof o.watermarkAt !== 'string' || !Number.isFinite(Date.parse(o.watermarkAt))) return 'watermarkAt must be an ISO time';
  if (!isObject(o.request) || typeof o.request.requestId !== 'string') return 'request.requestId is required';
  if (!isObject(o.settings)) return 'settings must be an object';
  if (bounded && JSON.stringify(o.settings).length > REQUEST_CHARS_MAX) return `settings are over ${REQUEST_CHARS_MAX} characters of JSON`;
  const parsed = parseOrder(o.operation, o.request, bounded);
  return parsed.ok ? undefined : parsed.error;
}

/**
 * A shard snapshot the front accepts: from one of its own shards (the id `<front>/shard-<i>` with i from 1 to
 * shardCount − 1, matching `shard`), with a positive integer seq, counts that are non-negative integers and add up
 * (byStatus sums to total), bounded maps. Rebuilt field by field: nothing else is kept.
 */
function checkSnapshot(raw: unknown, frontId: string, shardCount: number): { ok: true; snapshot: DlqShardSnapshot } | { ok: false; error: string } {
  if (!isObject(raw)) return { ok: false, error: 'a snapshot is a JSON object' };
  const tooBig = oversized(`the snapshot of ${quote(raw.workflowId)}`, raw, SNAPSHOT_CHARS_MAX);
  if (tooBig) return { ok: false, error: tooBig };
  const { shard, workflowId } = raw;
  if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 1 || shard >= shardCount || workflowId !== dlqShardWorkflowId(frontId, shard)) {
    return { ok: false, error: `${quote(workflowId)} (shard ${quote(shard)}) is not a shard of ${frontId}, which has ${shardCount - 1} shard(s)` };
  }
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const numbers = ['total', 'recovered', 'discarded', 'purged', 'paidSubmitsOnDead', 'retriesInFlight', 'retriesQueued', 'received', 'duplicateReports'] as const;
  const bad = numbers.find((k) => !count(raw[k]));
  if (bad) return { ok: false, error: `${workflowId}: ${bad} must be a non-negative integer` };
  if (!count(raw.seq) || raw.seq === 0) return { ok: false, error: `${workflowId}: seq must be a positive integer` };
  const byStatus = raw.byStatus;
  if (!isObject(byStatus) || !DLQ_ENTRY_STATUSES.every((k) => count(byStatus[k]))) return { ok: false, error: `${workflowId}: byStatus must count ${DLQ_ENTRY_STATUSES.join(', ')}` };
  const statusSum = DLQ_ENTRY_STATUSES.reduce((n, k) => n + (byStatus[k] as number), 0);
  if (statusSum !== raw.total) return { ok: false, error: `${workflowId}: byStatus adds up to ${statusSum}, not total ${raw.total as number}` };
  const maps = ['byCode', 'byClass', 'bySitekey', 'byHour', 'byBatch'] as const;
  const out: Record<(typeof maps)[number], Record<string, number>> = { byCode: dict(), byClass: dict(), bySitekey: dict(), byHour: dict(), byBatch: dict() };
  for (const name of maps) {
    const m = raw[name];
    if (!isObject(m) || Object.keys(m).length > SNAPSHOT_MAP_KEYS_MAX) return { ok: false, error: `${workflowId}: ${name} must be an object of at most ${SNAPSHOT_MAP_KEYS_MAX} counts` };
    for (const [k, v] of Object.entries(m)) {
      if (!count(v) || k.length > 1_000) return { ok: false, error: `${workflowId}: ${name}[${quote(k)}] must be a non-negative integer` };
      out[name][k] = v;
    }
  }
  const asOf = typeof raw.asOf === 'string' && ISO_TIME.test(raw.asOf) ? raw.asOf : null;
  const oldest = raw.oldestFailedAt;
  if (!asOf || (oldest !== null && (typeof oldest !== 'string' || !ISO_TIME.test(oldest)))) return { ok: false, error: `${workflowId}: asOf and oldestFailedAt must be ISO times` };
  const alerts = Array.isArray(raw.alerts)
    ? raw.alerts
        .filter(isObject)
        .slice(-5)
        .filter((a) => ['depth', 'oldest-age', 'state-size'].includes(a.kind as string) && count(a.threshold) && count(a.value) && typeof a.raisedAt === 'string' && ISO_TIME.test(a.raisedAt))
        .map((a) => ({ kind: a.kind, threshold: a.threshold, value: a.value, raisedAt: a.raisedAt }) as DlqAlert)
    : [];
  const n = (k: (typeof numbers)[number]): number => raw[k] as number;
  return {
    ok: true,
    snapshot: {
      workflowId,
      shard,
      seq: raw.seq,
      asOf,
      total: n('total'),
      byStatus: { dead: byStatus.dead as number, retrying: byStatus.retrying as number, parked: byStatus.parked as number },
      ...out,
      ...(raw.truncated === true && { truncated: true }),
      oldestFailedAt: oldest as string | null,
      recovered: n('recovered'),
      discarded: n('discarded'),
      purged: n('purged'),
      paidSubmitsOnDead: n('paidSubmitsOnDead'),
      retriesInFlight: n('retriesInFlight'),
      retriesQueued: n('retriesQueued'),
      received: n('received'),
      duplicateReports: n('duplicateReports'),
      ...(alerts.length > 0 && { alerts }),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Reports

/** Secrets that might hide in a provider message (the provider client redacts the key already: belt and braces). */
const SECRET_PATTERNS: [RegExp, string][] = [
  [/\b(key|apikey|api_key|clientKey|client_key)(["']?\s*[:=]\s*["']?)[^"'&\s,}]+/gi, '$1$2[REDACTED]'],
];

function redact(text: string, limit = MESSAGE_LIMIT): string {
  let out = text;
  for (const [re, by] of SECRET_PATTERNS) out = out.replace(re, by);
  return out.length > limit ? `${out.slice(0, limit - 1)}…` : out;
}

function knownClass(c: unknown): FailureClass {
  return typeof c === 'string' && (FAILURE_CLASSES as readonly string[]).includes(c) ? (c as FailureClass) : 'internal';
}

function nonNegative(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

function isoOr(v: unknown, fallback: string): string {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : fallback;
}

function sanitizeHistory(raw: unknown, now: string): AttemptRecord[] {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter(isObject)
    .slice(-HISTORY_LIMIT)
    .map((h) => ({
      round: nonNegative(h.round),
      ...(typeof h.providerTaskId === 'string' && { providerTaskId: h.providerTaskId.slice(0, 100) }),
      failureClass: knownClass(h.failureClass),
      code: typeof h.code === 'string' ? h.code.slice(0, 200) : 'UNKNOWN',
      message: redact(typeof h.message === 'string' ? h.message : '', 200),
      at: isoOr(h.at, now),
    }));
}

/** Validates a report; lenient about details (nothing is dropped for a missing count), strict about identity. */
function checkReport(raw: unknown, now: string, bounded: boolean): { ok: true; report: DeadLetterReport } | { ok: false; error: string } {
  if (!isObject(raw)) return { ok: false, error: 'a report is a JSON object' };
  if (bounded) {
    const tooBig = oversized(`the report of ${quote(raw.entryId)}`, raw, REPORT_CHARS_MAX);
    if (tooBig) return { ok: false, error: tooBig };
  }
  const text = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v ? (bounded ? v.slice(0, max) : v) : undefined);
  const { entryId, task } = raw;
  if (typeof entryId !== 'string' || entryId.length === 0 || entryId.length > 1_000 || entryId === '__proto__') {
    return { ok: false, error: 'entryId must be a non-empty string (the solve workflow id)' };
  }
  if (!isObject(task) || typeof task.type !== 'string') return { ok: false, error: `task of ${entryId} must be a captcha task object` };
  const taskKey = text(raw.taskKey, 1_000) ?? text(task.key, 1_000) ?? entryId;
  const batchId = text(raw.batchId, 1_000);
  const providerTaskIds = Array.isArray(raw.providerTaskIds) ? raw.providerTaskIds.filter((x): x is string => typeof x === 'string') : [];
  return {
    ok: true,
    report: {
      entryId,
      task: JSON.parse(JSON.stringify(task)) as CaptchaTask,
      taskKey,
      ...(batchId !== undefined && { batchId }),
      provider: text(raw.provider, 100) ?? 'unknown',
      failureClass: knownClass(raw.failureClass),
      code: typeof raw.code === 'string' && raw.code ? raw.code.slice(0, 200) : 'UNKNOWN',
      message: redact(typeof raw.message === 'string' ? raw.message : ''),
      attempts: nonNegative(raw.attempts),
      paidSubmits: nonNegative(raw.paidSubmits),
      providerTaskIds: bounded ? providerTaskIds.slice(-HISTORY_LIMIT * 5).map((x) => x.slice(0, 100)) : providerTaskIds,
      history: sanitizeHistory(raw.history, now),
      failedAt: isoOr(raw.failedAt, now),
    },
  };
}

function removedKey(id: string, failedAt: string): string {
  return `${id}\u0000${failedAt}`;
}

/**
 * The workflow's clock: inside the sandbox the SDK makes Date the time of the current workflow task (frozen while an
 * activation runs, the same on replay), which is what alerts, slots and stale checks must use to stay deterministic.
 */
function workflowNow(): number {
  return Date.now();
}

function nowIso(): string {
  return new Date(workflowNow()).toISOString();
}

/** The earliest of some ISO times (they sort as strings); null when there is none. */
function earliest(times: Iterable<string | null | undefined>): string | null {
  let at: string | null = null;
  for (const t of times) if (t && (at === null || t < at)) at = t;
  return at;
}
