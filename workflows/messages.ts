// Every signal, query and update of the product, defined once. Client, CLI, activities and workflows import these very
// objects, so a name can never drift between sender and receiver. Workflow-safe: only @temporalio/workflow and types.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CaptchaTask, DeadLetterReport, FailureClass, FailureSummary, SolveFailureDetails, SolvePolicyOverrides, SolveResult } from '../src/domain/types';
import type { DlqEntryStatus } from '../src/domain/names';
import type { BatchMoney, MoneyFigures } from '../src/domain/budget';
import type { BudgetUse, RetryCost } from '../src/domain/dlq-cost';
import type { ProviderBalance } from '../src/domain/balance';
import type { DailyCapState, LeaseAnswer, LeaseRequest } from '../src/domain/daily-cap';
import type { CaptchaType } from '../src/domain/types';

// ---------------------------------------------------------------------------------------------------------------------
// Solve child → its parent (a batch, or the DLQ for retries). Sent by signal so that the parent may continue-as-new
// while children are in flight: the signal reaches whichever run is current. A batch hears most of its children through
// their completion events instead (no signal, fewer events) and hands the rest over to signals before it continues-as-new.
export type SolveOutcome =
  | { taskKey: string; outcome: 'solved'; result: SolveResult; retry?: RetryRef }
  | { taskKey: string; outcome: 'failed'; failure: SolveFailureDetails; deadLettered: boolean; retry?: RetryRef }
  | { taskKey: string; outcome: 'cancelled'; retry?: RetryRef };
export interface RetryRef {
  entryId: string;
  generation: number;
  /** the provider route its retry order named (queued retries only) */
  route?: string[];
  /** the request id of the retry order that queued it: its outcome is counted in that order's audit record */
  order?: string;
}
export const solveOutcomeSignal = defineSignal<[SolveOutcome]>('solveOutcome');
/** Parent → child: "I am about to continue-as-new; report your outcome by signal from now on". */
export const reportBySignalSignal = defineSignal('reportBySignal');

// ---------------------------------------------------------------------------------------------------------------------
// Batch
/**
 * Where a batch's tasks come from. Small batches travel inline; large ones stay in a file that an activity reads page
 * by page, so no workflow input or continue-as-new state ever holds the whole list.
 */
export type TaskSource =
  | { kind: 'inline'; tasks: (CaptchaTask & { key: string })[] }
  | { kind: 'file'; path: string; format: 'json' | 'ndjson' | 'csv'; sha256: string; total: number };

export interface BatchInput {
  batchId: string;
  source: TaskSource;
  /**
   * the daily account cap (CAPTCHA_DAILY_CAP_USD): the batch leases spend from the account workflow in chunks and
   * pauses when it cannot lease one more submit (src/domain/daily-cap.ts states the overspend bound); needs `prices`
   */
  dailyCap?: { capMicros: number; chunkMicros: number; accountWorkflowId: string };
  /** children in flight at most (the provider's thread plan); default 50 */
  concurrency?: number;
  policy?: SolvePolicyOverrides;
  /** default 'captcha-dlq' */
  dlqWorkflowId?: string;
  /** task queue of the children; default the batch's own */
  taskQueue?: string;
  /** tasks read from a file source per activity call; default 500 */
  pageSize?: number;
  /** continue-as-new after this many history events (or when the server suggests it); default 8,000 */
  maxHistoryEvents?: number;
  /** continue-as-new after starting this many children in one run; default 1,000 */
  maxChildrenPerRun?: number;
  /** solved results kept for the `results` query (tokens expire ~120 s after solving); default 200 and 180 s */
  resultsKept?: number;
  resultsMaxAgeMs?: number;
  /**
   * Circuit breaker: after this many account-class failures (bad key, zero balance, IP banned) the batch stops
   * submitting; default 3.
   */
  breakerThreshold?: number;
  /** what an open circuit does with the tasks not started: hold them until `resume` (default) or dead-letter them */
  onAccountFailure?: 'hold' | 'dead-letter';
  /** set `CaptchaSitekey` on the children (default true); off with payload encryption: search attributes stay plain */
  indexSitekeys?: boolean;
  /** provider names in order of preference for every task (validated by the client); absent: the worker's default */
  route?: string[];
  /** a resubmit after an unsolvable answer goes to another provider of the route first (default true) */
  resubmitElsewhere?: boolean;
  /**
   * Money limit of the batch, micro-USD: no child starts when its submit would pass it (the batch pauses, like an open
   * circuit, until `resume` raises it). See src/domain/budget.ts for the overspend bound.
   */
  budgetMicros?: number;
  /** micro-USD per paid submit by captcha type, for the budget (the client's price table for the provider) */
  prices?: Partial<Record<CaptchaType, number>>;
  /** carried across continue-as-new */
  state?: BatchState;
}

/** Plain JSON; bounded by the window, the page size and `resultsKept`. */
export interface BatchState {
  startedAt: string;
  run: number;
  total: number;
  /** next source position to read */
  cursor: number;
  sourceDone: boolean;
  /** read from the source but not started yet */
  pending: (CaptchaTask & { key: string })[];
  inFlight: Record<string, true>;
  started: number;
  solved: number;
  /** possible duplicate paid submits reported by the tasks (SolveResult / failure details); absent: none */
  possibleDuplicateSubmits?: number;
  deadLettered: number;
  cancelled: number;
  errors: Record<string, number>;
  results: (SolveResult & { seq: number })[];
  nextSeq: number;
  /** children allowed in flight now: halved by final transient failures, grown back by successes (AIMD) */
  window: number;
  circuit: CircuitState;
  /** spent, wasted, the budget and the reservations of children in flight (absent: a run before money) */
  money?: BatchMoney;
  /** with a daily cap: what this batch leased from the account, and why it is paused by the cap */
  dailyCap?: BatchDailyCap;
  /** outcomes by the provider that took the task's last submit (absent: none known) */
  byProvider?: Record<string, ProviderCount>;
  /** solved tasks in completion order, as runs of one provider: the switches and switches back (the last 50 runs) */
  providerRuns?: ProviderRun[];
}

export interface ProviderCount {
  solved: number;
  deadLettered: number;
  /** solved tasks whose submit went elsewhere than the first choice first */
  switched: number;
}
export interface ProviderRun {
  provider: string;
  solved: number;
  firstSolvedAt: string;
  lastSolvedAt: string;
}

export interface CircuitState {
  open: boolean;
  /** account-class failures since the circuit last closed */
  accountFailures: number;
  code?: string;
  openedAt?: string;
}

export interface BatchSummary {
  batchId: string;
  status: 'completed' | 'cancelled';
  total: number;
  solved: number;
  deadLettered: number;
  /** submits that may have been paid twice (a worker died or an answer was lost after sending); absent: none */
  possibleDuplicateSubmits?: number;
  cancelled: number;
  /** of the cancelled: tasks that never started */
  notStarted: number;
  elapsedMs: number;
  runs: number;
  topErrors: { code: string; count: number }[];
  /** spent, per solve, wasted on failures, the budget (absent: a run before money) */
  money?: MoneyFigures;
}

export interface BatchProgress {
  batchId: string;
  status: 'running' | 'cancelling' | 'completed' | 'cancelled';
  total: number;
  started: number;
  solved: number;
  deadLettered: number;
  /** submits that may have been paid twice (a worker died or an answer was lost after sending); absent: none */
  possibleDuplicateSubmits?: number;
  cancelled: number;
  inFlight: number;
  startedAt: string;
  elapsedMs: number;
  /** run number of this batch (1 + continue-as-new count) */
  run: number;
  topErrors: { code: string; count: number }[];
  /** current window (≤ concurrency): smaller while the provider answers with transient errors */
  window: number;
  circuit: CircuitState;
  /** outcomes by provider, and the runs of solved tasks per provider in completion order (several providers) */
  byProvider?: Record<string, ProviderCount>;
  providerRuns?: ProviderRun[];
  /** spent, per solve, wasted on failures, the budget and why the batch is paused by it (absent: a run before money) */
  money?: MoneyFigures;
  /** with a daily cap: leased from the account, and why the batch is paused by the cap */
  dailyCap?: BatchDailyCap;
}
export interface BatchDailyCap {
  /** micro-USD leased from the account's daily cap by this batch */
  leasedMicros: number;
  /** leases asked so far (the next request id is `<batch id>/cap-<leases + 1>`) */
  leases: number;
  /** no lease covers the next submit: "daily cap of $X reached at …; resets at 00:00 UTC" */
  paused?: { message: string; resetsAt: string };
}
/** account → batch: the daily cap was raised; a batch paused by it asks for a lease again */
export const batchDailyCapSignal = defineSignal('dailyCapChanged');
export interface BatchResultsRequest {
  /** sequence number of the last result already seen (0 or absent: from the oldest kept) */
  cursor?: number;
  limit?: number;
}
export interface BatchResultsPage {
  results: (SolveResult & { seq: number })[];
  /** pass back as `cursor` to get what was solved since */
  nextCursor: number;
  /** results older than this sequence were dropped from the batch (tokens expire after ~120 s) */
  oldestKept: number;
}
export const batchProgressQuery = defineQuery<BatchProgress>('progress');
export interface BatchResumeRequest {
  reason?: string;
  /** the batch's new budget, micro-USD (replaces the old one; a paused batch continues when it fits) */
  budgetMicros?: number;
}
/** Closes an open circuit once the account is fixed; returns the progress. Also as a signal for the plain CLI. */
export const batchResumeUpdate = defineUpdate<BatchProgress, [BatchResumeRequest]>('resume');
export const batchResumeSignal = defineSignal<[BatchResumeRequest?]>('resume');
export const batchResultsQuery = defineQuery<BatchResultsPage, [BatchResultsRequest?]>('results');

// ---------------------------------------------------------------------------------------------------------------------
// Dead-letter queue. One front workflow (id `captcha-dlq` by default) and, when `shardCount` > 1, shard workflows
// `captcha-dlq/shard-<i>` of the same type (see ./dlq/routing.ts). Every argument is a plain JSON object, so operators can
// use the plain `temporal` CLI:
//   temporal workflow query  --workflow-id captcha-dlq --type stats
//   temporal workflow query  --workflow-id captcha-dlq --type list --input '{"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"],"limit":20}'
//   temporal workflow signal --workflow-id captcha-dlq --name retry --input '{"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"]}'
//   temporal workflow update execute --workflow-id captcha-dlq --name discardEntries --input '{"all":true,"reason":"x","dryRun":true}'

export interface DlqEntry extends FailureSummary {
  id: string;
  task: CaptchaTask;
  taskKey: string;
  batchId?: string;
  provider: string;
  /** attempts and paidSubmits add up the original solve and every DLQ retry */
  firstFailedAt: string;
  lastFailedAt: string;
  dlqRetries: number;
  status: DlqEntryStatus;
  /** arrival order in the workflow that holds the entry: the `list` cursor and the watermark of bulk orders */
  seq: number;
  /** when the DLQ recorded the entry (workflow time) */
  receivedAt: string;
  /** the last retry generation started (the retry child is `<id>/retry-<generation>`) */
  lastGeneration?: number;
}

/**
 * Selects entries; every field narrows (AND across fields, OR within one). The fields sit at the top level of every
 * request (`{"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"],"reason":"…"}`); there is no nested `filter` object.
 */
export interface DlqFilter {
  ids?: string[];
  /** the provider's codes (`ERROR_CAPTCHA_UNSOLVABLE`) or ours (`POLL_DEADLINE`, `HTTP_503`) */
  errorCodes?: string[];
  classes?: FailureClass[];
  sitekeys?: string[];
  batchIds?: string[];
  statuses?: DlqEntryStatus[];
  /** ISO time; entries whose last failure is at or after */
  since?: string;
  /** ISO time; entries whose last failure is before */
  until?: string;
}
export const DLQ_FILTER_FIELDS = ['ids', 'errorCodes', 'classes', 'sitekeys', 'batchIds', 'statuses', 'since', 'until'] as const;

export interface DlqListRequest extends DlqFilter {
  /** `nextCursor` of the previous page (`"<shard>:<seq>"`) */
  cursor?: string;
  /** ≤ 500, default 100 */
  limit?: number;
}
export interface DlqListPage {
  /** in arrival order */
  entries: DlqEntry[];
  /**
   * Absent on the last page of the whole DLQ. With shards, a cursor that continues in another workflow comes with
   * `nextWorkflowId`: query that workflow with it (a shard that does not exist yet holds nothing: continue with
   * cursor `"<shard + 1>:0"` on the next one).
   */
  nextCursor?: string;
  /** set when the next page is held by another workflow (the next shard) */
  nextWorkflowId?: string;
  /** entries matching the filter in this workflow (this shard) */
  total: number;
  /** the workflow that answered and its shard index (0: the front) */
  workflowId: string;
  shard: number;
}

export interface DlqStats {
  /** entries held now */
  total: number;
  byStatus: Record<DlqEntryStatus, number>;
  byCode: Record<string, number>;
  byClass: Record<string, number>;
  /** top sitekeys by entry count */
  bySitekey: { sitekey: string; count: number }[];
  /** '00'..'23' (all 24): UTC hour of the last failure */
  byHour: Record<string, number>;
  byBatch: Record<string, number>;
  oldestFailedAt: string | null;
  /** measured at the workflow's last activation (a query does not advance workflow time): for a live age on an idle
   * DLQ compute it from `oldestFailedAt` */
  oldestEntryAgeMs: number | null;
  /** entries that a DLQ retry solved (and removed), ever */
  recovered: number;
  /** entries removed by `discard`, ever */
  discarded: number;
  /** parked entries removed by `purge`, ever */
  purged: number;
  /** entries parked after reaching the retry cap (currently held) */
  parked: number;
  /** paid submits spent on the entries held now */
  paidSubmitsOnDead: number;
  /** micro-USD spent on the entries held now (original solve and DLQ retries), in all and by error code */
  spentMicrosOnDead?: number;
  spentMicrosOnDeadByCode?: Record<string, number>;
  /** retry children running */
  retriesInFlight: number;
  /** entries waiting for a retry child (rate and concurrency limits) */
  retriesQueued: number;
  /** reports received, ever, and how many of them repeated an entry already held (idempotent no-ops) */
  received: number;
  duplicateReports: number;
  /** signals sent to this DLQ under a name it does not know (a typo such as `retryAll`): how many, and the last name */
  unknownSignals: { count: number; lastName: string | null };
  alerts: DlqAlert[];
  /** the oldest time the numbers are exact as of (shard snapshots land asynchronously) */
  asOf: string;
  /** with shards: the snapshot each one last pushed (the front's own entries are not listed) */
  shards?: { workflowId: string; shard: number; seq: number; asOf: string; total: number }[];
}
/**
 * The stats the front publishes in its memo under DLQ_STATS_MEMO_KEY, read with `describe()` from the server without
 * waiting on the worker (the `stats` query waits behind the workflow's activations while reports pour in). Published
 * when the counts changed, at most once per `statsPublishIntervalMs`, and when a run starts (so after every
 * continue-as-new); the numbers are those of `stats` at `asOf`. Bounded (DLQ_STATS_MEMO_CHARS_MAX): the largest
 * sitekeys, codes and batches only, `truncated` when some were left out; no per-shard list.
 */
export interface DlqStatsSnapshot extends Omit<DlqStats, 'shards'> {
  /** workflow time of the publication (asOf is older when shard snapshots are) */
  publishedAt: string;
  /** the DLQ run that published it, and its publication number within that run */
  run: number;
  seq: number;
  /** shards whose snapshot the front holds (0 without shards) */
  shardsReporting: number;
  /** some keys of bySitekey, byCode or byBatch were left out to keep the memo small */
  truncated?: true;
}
export const DLQ_STATS_MEMO_KEY = 'dlqStats';
/** the published snapshot is kept under this many JSON characters (the server refuses a memo over 32 KB) */
export const DLQ_STATS_MEMO_CHARS_MAX = 16_000;
export interface DlqStatsRequest {
  /** how many sitekeys to list (default 10, ≤ 1,000) */
  top?: number;
}

export interface DlqAlert {
  kind: 'depth' | 'oldest-age' | 'state-size';
  threshold: number;
  value: number;
  raisedAt: string;
}

/**
 * Operator orders: filter fields at the top level. An empty filter acts only with `"all": true` (an empty order is
 * logged and ignored, or rejected as an update). `by` and `reason` go into the audit log; `requestId` makes a repeated
 * order a no-op (also across continue-as-new); `dryRun` counts what the order would act on and changes nothing.
 */
export interface DlqRetryRequest extends DlqFilter {
  /** required to act on an empty filter: retry everything retryable (never parked or account-class entries) */
  all?: boolean;
  /** retry on these providers, in order (CAPTCHA_PROVIDERS' names); absent: the worker's default route */
  route?: string[];
  reason?: string;
  by?: string;
  requestId?: string;
  dryRun?: boolean;
  /** micro-USD per submit by captcha type: the result then says what the retry costs (expected and at worst) */
  prices?: Partial<Record<CaptchaType, number>>;
  /**
   * micro-USD: the validator refuses the order when its worst case (entries × price × (1 + maxResubmits): every retry
   * comes back unsolvable) is over it, so the order cannot spend more; needs `prices`
   */
  budgetMicros?: number;
  /**
   * with `budgetMicros`: instead of refusing, retry the entries whose last failure is oldest while their worst case
   * (1 + maxResubmits submits each) fits, and leave the rest dead for a later run (the scheduled drain's budget)
   */
  fitBudget?: boolean;
}
export interface DlqDiscardRequest extends DlqFilter {
  all?: boolean;
  /** required */
  reason: string;
  by?: string;
  requestId?: string;
  dryRun?: boolean;
}
export interface DlqOperationResult {
  operation: 'retry' | 'discard' | 'purge';
  requestId: string;
  dryRun: boolean;
  /** entries the order acts on (with dryRun: would act on) */
  matched: number;
  /** ids of up to 20 of them */
  sample: string[];
  /** selected but not eligible (parked or account-class on a bulk retry, or already retrying) */
  skipped: number;
  /** true when `requestId` was seen before: nothing was done again, the counts are the first order's */
  duplicate?: boolean;
  /** DLQ workflows (front and shards) that applied the order */
  workflows?: number;
  /** shards that did not confirm the order (forwarding failed or they rejected it); the counts leave them out */
  unreached?: string[];
  /** a retry order with `prices`: expected (one submit per entry) and worst case, in all and by class (src/domain/dlq-cost.ts) */
  cost?: RetryCost;
  /** a `fitBudget` retry: what its budget reserved and the entries it left for a later run */
  budget?: BudgetUse;
}

export interface DlqAuditRecord {
  operation: 'retry' | 'discard' | 'purge';
  requestId: string;
  by: string;
  reason: string;
  at: string;
  matched: number;
  skipped?: number;
  /** the selection, as normalized */
  filter: DlqFilter & { all?: boolean };
  /** the order acted only on entries received at or before this time (and, where issued, received before it) */
  watermarkAt?: string;
  via?: 'signal' | 'update' | 'front';
  /** a `fitBudget` retry: its budget, what it reserved, and the entries left for a later run */
  budget?: BudgetUse;
  /**
   * Retry orders: what became of the entries it retried, front and shards together (a shard's part as of its last
   * snapshot). Absent on orders given before the DLQ tracked it (ORDER_OUTCOMES_PATCH).
   */
  outcomes?: DlqOrderOutcomes;
  /** in the `audit` answer, with `outcomes`: entries matched whose retry has not reported yet (queued or running) */
  inFlight?: number;
}
export interface DlqOrderOutcomes {
  /** solved: removed from the DLQ */
  recovered: number;
  /** failed again (or the retry ended without reporting): back in the DLQ, or parked at the cap */
  failed: number;
  /** back in the DLQ without a verdict: the retry was cancelled or could not start */
  cancelled: number;
  /** when the last one was counted */
  at?: string;
}
/** A shard's outcomes of one retry order, in its snapshot: [requestId, recovered, failed, cancelled]. */
export type DlqOrderTally = [string, number, number, number];
export interface DlqAuditRequest {
  /** ≤ 500, default 100; newest first */
  limit?: number;
}

/** Settings of the DLQ workflow; every field is optional and `{}` means all defaults. */
export interface DlqSettings {
  /** DLQ retries before an entry is parked; default 3 */
  retryCap?: number;
  /** retry children in flight at most (split across shards); default 10 */
  retryConcurrency?: number;
  /** retry children started per second at most (split across shards); default 5 */
  retryRatePerSecond?: number;
  /** entries held (all shards) above which a `depth` alert is raised once; default 10,000 */
  softLimit?: number;
  /** an `oldest-age` alert is raised once when the oldest entry is older than this; default 24 h */
  oldestAgeAlertMs?: number;
  /** messages (signals and updates) one run takes before it continues as new; default 2,000 */
  maxMessagesPerRun?: number;
  /** workflows the entries are spread over (by a hash of the entry id); default 1 */
  shardCount?: number;
  /** policy overrides of the retry children */
  solvePolicy?: SolvePolicyOverrides;
  /** task queue of the retry children; default the DLQ's own */
  taskQueue?: string;
  /** shards push their stats to the front at most this often; default 1,000 ms */
  snapshotIntervalMs?: number;
  /** a retry child that has not reported after this long is looked up (terminated children report nothing); default 30 min */
  retryStaleAfterMs?: number;
  /** set `CaptchaSitekey` on retry children (default true); off with payload encryption: search attributes stay plain */
  indexSitekeys?: boolean;
  /** continue-as-new state (JSON characters) above which a `state-size` alert is raised; default 1,000,000 */
  stateSizeAlertChars?: number;
  /** the front publishes its stats in its memo (DLQ_STATS_MEMO_KEY) at most this often, when they changed; default 1,000 ms */
  statsPublishIntervalMs?: number;
}

export interface DlqInput extends DlqSettings {
  /** `front` (default): the workflow operators talk to; `shard`: holds the entries routed to it */
  role?: 'front' | 'shard';
  /** shards: the front's workflow id */
  front?: string;
  /** shards: the shard index (1 … shardCount − 1) */
  shard?: number;
  /** carried across continue-as-new; never set it by hand */
  state?: DlqRunState;
}

/** Latest wins by `seq`: a shard's counts, pushed to the front (idempotent, debounced). */
export interface DlqShardSnapshot {
  workflowId: string;
  shard: number;
  seq: number;
  asOf: string;
  total: number;
  byStatus: Record<DlqEntryStatus, number>;
  byCode: Record<string, number>;
  byClass: Record<string, number>;
  /** the 50 largest keys each (`truncated` says when there were more) */
  bySitekey: Record<string, number>;
  byHour: Record<string, number>;
  byBatch: Record<string, number>;
  truncated?: boolean;
  oldestFailedAt: string | null;
  recovered: number;
  discarded: number;
  purged: number;
  paidSubmitsOnDead: number;
  /** micro-USD spent on the entries held (absent: a shard before money) */
  spentMicrosOnDead?: number;
  spentMicrosOnDeadByCode?: Record<string, number>;
  retriesInFlight: number;
  retriesQueued: number;
  received: number;
  duplicateReports: number;
  /** the shard's latest alerts (state size) */
  alerts?: DlqAlert[];
  /** the outcomes of the shard's latest retry orders (workflows/dlq/outcomes.ts); absent from shards before it */
  orders?: DlqOrderTally[];
}

/** An operator order the front forwards to a shard, with the front's watermark (time) and request id. */
export interface DlqForwardedOrder {
  operation: 'retry' | 'discard' | 'purge';
  request: DlqRetryRequest & { requestId: string };
  /** act only on entries received at or before this time */
  watermarkAt: string;
  from: string;
  /** the front's settings the shard adopts (retry cap, per-shard concurrency and rate, policy, …) */
  settings: DlqSettings;
}

/** The state one DLQ run hands to the next (plain JSON; bounded by the entries it holds). */
export interface DlqRunState {
  version: 1;
  run: number;
  nextSeq: number;
  entries: Record<string, DlqEntry>;
  /** retries waiting for a child, in order */
  queue: RetryRef[];
  /** retry children started and not reported yet, by entry id */
  inFlight: Record<string, { generation: number; childId: string; startedAt: string; checkedAt?: string; order?: string }>;
  counters: { received: number; duplicateReports: number; recovered: number; discarded: number; purged: number };
  audit: DlqAuditRecord[];
  /** request ids of orders already applied (bounded), and the results of the latest ones */
  requests: { ids: string[]; results: DlqOperationResult[] };
  /** `[entryId, failedAt]` of entries removed lately: a late repeat of their report is not a new failure */
  removed: [string, string][];
  alerts: DlqAlert[];
  depthAlertArmed: boolean;
  /** false after an `oldest-age` alert, until the oldest entry is younger than the threshold again */
  ageAlertArmed?: boolean;
  /** front: the latest snapshot of every shard, by workflow id */
  shards: Record<string, DlqShardSnapshot>;
  /** shard: the last snapshot seq pushed and whether the counts changed since */
  snapshot: { seq: number; dirty: boolean };
  /** shard: the settings adopted from the front's orders */
  adopted?: DlqSettings;
  /**
   * The entries in compact rows (workflows/dlq/pack.ts); `entries` is then empty. Continue-as-new carries this form:
   * about a fifth of the size of the plain objects.
   */
  packed?: DlqPackedEntries;
  /** false after a `state-size` alert, until the state is well below the threshold again */
  sizeAlertArmed?: boolean;
  /** signals under names this workflow does not handle */
  unknownSignals?: { count: number; lastName: string | null };
}

/** Entries as positional rows with a table of the strings they share (see workflows/dlq/pack.ts). */
export interface DlqPackedEntries {
  v: 1;
  strings: string[];
  rows: unknown[][];
}

/**
 * An order, list or stats request, as JSON, is at most this long. The DLQ rejects longer ones; clients must not send
 * them at all: over 2 MiB the SDK cannot even deliver the rejection (it quotes the request), and the DLQ's workflow
 * task fails until the update times out.
 */
export const DLQ_REQUEST_CHARS_MAX = 100_000;

export const deadLetterSignal = defineSignal<[DeadLetterReport]>('deadLetter');
export const dlqStatsQuery = defineQuery<DlqStats, [DlqStatsRequest?]>('stats');
export const dlqListQuery = defineQuery<DlqListPage, [DlqListRequest?]>('list');
export const dlqAuditQuery = defineQuery<DlqAuditRecord[], [DlqAuditRequest?]>('audit');
export const dlqRetrySignal = defineSignal<[DlqRetryRequest]>('retry');
export const dlqDiscardSignal = defineSignal<[DlqDiscardRequest]>('discard');
export const dlqRetryUpdate = defineUpdate<DlqOperationResult, [DlqRetryRequest]>('retryEntries');
export const dlqDiscardUpdate = defineUpdate<DlqOperationResult, [DlqDiscardRequest]>('discardEntries');
export const dlqPurgeUpdate = defineUpdate<DlqOperationResult, [DlqDiscardRequest]>('purgeEntries');
/** shard → front: its latest counts */
export const dlqShardSnapshotSignal = defineSignal<[DlqShardSnapshot]>('shardSnapshot');
/**
 * Operator → front: forget what a shard last reported (a wrong or forged snapshot); the shard's next snapshot counts
 * again, whatever its seq. `shard` is the index (1 … shardCount − 1).
 */
export interface DlqResetShardRequest {
  shard: number;
  reason: string;
  by?: string;
}
export interface DlqResetShardResult {
  workflowId: string;
  shard: number;
  /** the entries the forgotten snapshot counted (0 when there was none) */
  removedTotal: number;
  hadSnapshot: boolean;
}
export const dlqResetShardUpdate = defineUpdate<DlqResetShardResult, [DlqResetShardRequest]>('resetShard');
/** front → shard: an operator order with the front's watermark; returns what the shard did */
export const dlqForwardedOrderUpdate = defineUpdate<DlqOperationResult, [DlqForwardedOrder]>('applyForwardedOrder');

// ---------------------------------------------------------------------------------------------------------------------
// Scheduled drain (workflows/drain.ts): its input, and what its one activity returns.
export interface DrainInput {
  dlqWorkflowId: string;
  /** default DRAIN_DEFAULT_CLASSES */
  classes?: FailureClass[];
  /** narrows further to these error codes */
  errorCodes?: string[];
  /** for the audit log */
  reason: string;
  by: string;
  /**
   * micro-USD a run may spend on retries (absent: no budget): the oldest entries whose worst case fits are retried,
   * the rest wait for a later run. Needs `prices`.
   */
  budgetMicros?: number;
  /** micro-USD per submit by captcha type (the client's price table at `schedule create`) */
  prices?: Partial<Record<CaptchaType, number>>;
}
export interface DrainResult {
  /** false when the DLQ workflow is not running (nothing to drain) */
  dlqRunning: boolean;
  requestId: string;
  matched: number;
  skipped: number;
  sample: string[];
  /** with a budget: one submit per retried entry, by class */
  cost?: RetryCost;
  /** with a budget: what it reserved and how many entries were left for a later run, at what cost */
  budget?: BudgetUse;
}

// ---------------------------------------------------------------------------------------------------------------------
// The account (workflows/account.ts): token reports (refunds), their counts, the balance and the low-balance alert.
// A report runs as a short workflow `report/<provider>/<providerTaskId>` (one per token: a second report is answered from
// its record); the counts and the alert state live in one long-lived workflow (ACCOUNT_WORKFLOW_ID, `captcha-account`).
//   temporal workflow query --workflow-id captcha-account --type feedbackStats
export type TokenVerdict = 'good' | 'bad';

export interface TokenReportInput {
  providerTaskId: string;
  verdict: TokenVerdict;
  /** the solve's task key, when the report named one */
  taskKey?: string;
  /** the provider that solved it (SolveResult.provider, a route name); absent: the worker's first provider */
  provider?: string;
  /** when the token was solved (SolveResult.solvedAt); absent (a bare provider task id): the provider's answer decides */
  solvedAt?: string;
  /** reports are refused this long after `solvedAt` */
  windowMs: number;
  /** what the feedback counts file the report under (absent: "unknown") */
  captchaType?: string;
  sitekey?: string;
  /** where the verdict is counted */
  accountWorkflowId: string;
}

export type TokenReportResult =
  | { status: 'sent'; providerTaskId: string; verdict: TokenVerdict; provider: string; reportedAt: string; taskKey?: string }
  | { status: 'refused'; providerTaskId: string; verdict: TokenVerdict; reason: string; refusedAt: string; taskKey?: string };

/** One verdict, as the account workflow counts it. */
export interface TokenFeedback {
  providerTaskId: string;
  provider: string;
  captchaType: string;
  sitekey: string;
  verdict: TokenVerdict;
  at: string;
}
export const tokenFeedbackSignal = defineSignal<[TokenFeedback]>('tokenFeedback');

export interface FeedbackCounts {
  good: number;
  bad: number;
  /** good / (good + bad); null before any report */
  acceptance: number | null;
}
export interface FeedbackStats {
  total: FeedbackCounts;
  byProvider: Record<string, FeedbackCounts>;
  byType: Record<string, FeedbackCounts>;
  /** the most reported (provider, type, sitekey) rows, most reports first */
  bySitekey: (FeedbackCounts & { provider: string; captchaType: string; sitekey: string })[];
  /** rows beyond the bound are counted under sitekey "(other)" */
  otherSitekeys: number;
  since: string;
}
export interface FeedbackStatsRequest {
  /** rows of `bySitekey` (default 10, ≤ 1,000) */
  top?: number;
}
export const feedbackStatsQuery = defineQuery<FeedbackStats, [FeedbackStatsRequest?]>('feedbackStats');

export interface BalanceCheck {
  provider: string;
  balance: number;
  /** the thread plan, where the provider has one */
  threads?: { threads: number; workingThreads: number; freeThreads: number };
  /** CAPTCHA_LOW_BALANCE of the worker; absent: no alert */
  lowBalance?: number;
  /** below the threshold (with several providers: any of them) */
  low: boolean;
  /** this check crossed below the threshold and raised the alert (once per crossing; several providers: any of them) */
  alerted: boolean;
  checkedAt: string;
  /**
   * every configured provider (CAPTCHA_PROVIDERS), in order, each with its own alert; `provider`, `balance` and
   * `threads` above are the first one that answered. Absent on checks made before providers were checked one by one.
   */
  providers?: ProviderBalance[];
}
/** Reads the balance (and thread plan) on the worker; raises the low-balance alert once per crossing. */
export interface BalanceCheckRequest {
  /** what asked (logs): "cli", "batch start", … */
  reason?: string;
}
export const checkBalanceUpdate = defineUpdate<BalanceCheck, [BalanceCheckRequest]>('checkBalance');
/** batch → account: lease spend under the daily cap (one update per chunk); grants what fits, possibly nothing */
export const leaseDailySpendUpdate = defineUpdate<LeaseAnswer, [LeaseRequest]>('leaseDailySpend');
/** operator → account: a new daily cap (micro-USD); batches paused by the cap are told to ask again */
export interface SetDailyCapRequest {
  capMicros: number;
  by?: string;
}
export interface DailyCapView {
  day: string;
  capMicros?: number;
  leasedMicros: number;
  reachedAt?: string;
  resetsAt: string;
}
export const setDailyCapUpdate = defineUpdate<DailyCapView, [SetDailyCapRequest]>('setDailyCap');
export const dailyCapQuery = defineQuery<DailyCapView | null>('dailyCap');

export interface AccountAlert {
  kind: 'low-balance';
  provider: string;
  threshold: number;
  value: number;
  raisedAt: string;
}

export interface AccountState {
  since: string;
  /** `provider\ttype\tsitekey` → counts; bounded (ACCOUNT_FEEDBACK_ROWS_MAX) */
  counts: Record<string, { good: number; bad: number }>;
  otherSitekeys: number;
  /** provider task ids counted lately: a repeated signal (a retried activity) is counted once; bounded */
  recent: string[];
  /** below the threshold since the last alert: no new alert until the balance is back above it */
  lowAlerted: boolean;
  /** the same per provider, when every configured provider is checked (lowAlerted is then the first one's) */
  lowAlertedBy?: Record<string, boolean>;
  lastCheck?: BalanceCheck;
  /** the daily cap's leases this UTC day (src/domain/daily-cap.ts); absent until a batch leases */
  dailyCap?: DailyCapState;
}
export interface AccountInput {
  /** carried across continue-as-new */
  state?: AccountState;
}
